"""Tries int8 0/1 arrays (same itemsize as bool) as signals.
Contained: bad_output
Says: int8
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
    x = (candles.close > candles.open).astype("i1")
    return x, x
