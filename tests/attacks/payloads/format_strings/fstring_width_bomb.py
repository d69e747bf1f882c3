"""Tries an f-string with a nested width of 10**9: a 1 GB string from a tiny expression.
Contained: lint_failed | forbidden
Says: f-strings
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


def on_candles(candles, params):
    s = f"{1:>{10 ** 9}}"
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
