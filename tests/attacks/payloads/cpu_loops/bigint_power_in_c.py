"""Tries 7 ** 10**8: seconds of C code with no bytecode boundary where a Python signal could land.
Contained: timeout | cpu_limit
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
    x = 7 ** (10 ** 8)
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
