"""Tries unbounded mutual recursion between two functions.
Contained: runtime_error
Says: RecursionError
"""
# ruff: noqa
# fmt: off
# An attack payload (a template: {{...}} is substituted). See tests/attacks/catalogue.py.


def meta():
    return {
        "name": "attack",
        "version": "1.0.0",
        "api_version": 1,
        "timeframe": "1h",
        "lookback": 0,
        "description": "attack payload",
        "params": {},
    }


def ping(k):
    return pong(k + 1)


def pong(k):
    return ping(k + 1)


def on_candles(candles, params):
    ping(0)
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
