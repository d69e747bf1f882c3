"""Tries to pass lint by binding `getattr` as another function's parameter, then using the global.
Contained: runtime_error
Says: getattr
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


def helper(getattr):
    return getattr


def on_candles(candles, params):
    c = getattr(candles, "_close")
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
