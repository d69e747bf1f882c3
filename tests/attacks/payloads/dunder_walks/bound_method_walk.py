"""Tries attributes of a bound array method (candles.close.sum.copy) to walk towards __self__.
Contained: forbidden
Says: attribute 'copy'
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
    m = candles.close.sum.copy
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
