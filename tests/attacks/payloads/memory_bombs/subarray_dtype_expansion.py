"""Tries astype(("f8", (10**6,))): every bar becomes a million floats (4 GB for 500 bars).
Contained: forbidden | runtime_error | memory_limit | killed
Says: astype | MemoryError
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
    x = candles.close.astype(("f8", (10 ** 6,)))
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
