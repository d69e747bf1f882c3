"""Tries astype("O") to get Python floats out of an array, then a method on one (.item on float).
Contained: forbidden
Says: float
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
    objs = candles.close.astype("O")
    f = objs[0]
    m = f.item
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
