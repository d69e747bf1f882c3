"""Tries candles.close.ctypes to get the ctypes module and a pointer to the read-only buffer.
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
    c = candles.close.ctypes
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
