"""Tries 100,000 declared params, each with a 200-char string default.
Contained: bad_meta
Says: params
"""
# ruff: noqa
# fmt: off
# An attack payload (a template: {{...}} is substituted). See tests/attacks/catalogue.py.


def meta():
    p = {}
    for i in range(100000):
        p["p" + str(i)] = "v" * 200
    return {
        "name": "attack",
        "version": "1.0.0",
        "api_version": 1,
        "timeframe": "1h",
        "lookback": 0,
        "description": "x",
        "params": p,
    }


def on_candles(candles, params):
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
