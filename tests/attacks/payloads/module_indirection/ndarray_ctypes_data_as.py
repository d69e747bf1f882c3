"""Tries candles.close.ctypes.data_as(...) to get a raw pointer (and the ctypes module) from an array.
Contained: lint_failed
Says: ctypes
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
    p = candles.close.ctypes.data_as(candles.close.ctypes._type_)
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
