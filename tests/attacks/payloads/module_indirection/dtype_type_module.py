"""Tries candles.close.dtype.type to get numpy.float64, then its module, from an array.
Contained: lint_failed
Says: dtype
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
    t = candles.close.dtype.type
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
