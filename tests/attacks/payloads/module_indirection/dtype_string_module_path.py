"""Tries a module path as a dtype string (astype("numpy.lib.format")) to make numpy import it.
Contained: runtime_error
Says: data type
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
    x = candles.close.astype("numpy.lib.format")
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
