"""Tries the in-language analogue of a fork bomb: a call tree that fans out 10-fold per level.
Contained: timeout | cpu_limit | runtime_error | memory_limit | killed
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


def spawn(k):
    if k == 0:
        return 1
    return sum([spawn(k - 1) for i in range(10)])


def on_candles(candles, params):
    x = spawn(12)
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
