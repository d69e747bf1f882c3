"""Tries augmented assignment on an item of a candle array (candles.close[0] += 1).
Contained: compile_error | forbidden
Says: augmented assignment | read-only
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
    candles.close[0] += 1.0
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
