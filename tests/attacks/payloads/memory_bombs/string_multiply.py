"""Tries "x" * 10**10: a 10 GB string.
Contained: runtime_error | memory_limit | killed
Says: MemoryError
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
    x = "x" * 10 ** 10
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
