"""Tries far out-of-bounds item writes (2**62, -2**62) into an array it owns.
Contained: runtime_error
Says: index
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
    a = ta.full(3, 1.0)
    a[2 ** 62] = 1.0
    a[-(2 ** 62)] = 1.0
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
