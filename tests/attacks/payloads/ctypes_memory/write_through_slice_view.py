"""Tries writing through a slice view of the candles (a view of read-only memory).
Contained: forbidden
Says: read-only
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
    v = candles.close[10:20]
    v[0] = 1.0
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
