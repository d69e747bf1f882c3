"""Tries `copy`, a name allowed on lists and arrays, on a function object (on_candles.copy).
Contained: forbidden
Says: function
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
    f = on_candles.copy
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
