"""Tries 10**7 x 10**7 nested range loops (each range under the 10-million cap).
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
    total = 0
    for i in range(10 ** 7):
        for j in range(10 ** 7):
            total += 1
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
