"""Tries an out= argument (cumsum(out=candles.open)) to make numpy write into the candles. numpy
1.24 (the container image's) lets accumulate write into a read-only array, so `out` is refused.
Contained: forbidden
Says: out=
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
    candles.close.cumsum(out=candles.open)
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
