"""Tries unbounded Python recursion.
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


def down(k):
    return down(k + 1) + 1


def on_candles(candles, params):
    down(0)
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
