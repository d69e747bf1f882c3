"""Tries array methods on a numpy scalar (candles.close[0].astype), which only allows .item.
Contained: forbidden
Says: float64
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
    m = candles.close[0].astype
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
