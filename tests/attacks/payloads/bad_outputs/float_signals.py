"""Tries float 0/1 arrays as signals, hoping they are coerced to bool.
Contained: bad_output
Says: dtype float64
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
    return ta.as_float(candles.close > candles.open), ta.full(n, 0.0)
