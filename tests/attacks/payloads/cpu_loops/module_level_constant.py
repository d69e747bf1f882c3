"""Tries a module-level constant that takes forever to compute (runs before meta() is even called).
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


SLOW = 7 ** (10 ** 8)


def on_candles(candles, params):
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
