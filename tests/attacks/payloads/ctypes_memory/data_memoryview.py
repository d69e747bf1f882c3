"""Tries candles.close.data (a memoryview of the buffer) and memoryview() to write through it.
Contained: lint_failed
Says: not available | unknown name
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
    m = candles.close.data
    v = memoryview(b"x")
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
