"""Tries range(10**12) in a loop: one call that would run for hours.
Contained: forbidden
Says: range
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
    total = 0
    for i in range(10 ** 12):
        total += i
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
