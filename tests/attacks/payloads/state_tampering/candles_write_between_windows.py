"""Tries writing into candles.volume so a later window sees altered bars.
Contained: forbidden
Says: read-only
Windows: 50, 100, 250, 400
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
    n = len(candles)
    candles.volume[n - 1] = 1e12
    return ta.full(n, False), ta.full(n, False)
