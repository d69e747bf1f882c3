"""Tries recursion that re-enters C code each level (sorted(key=f) where f sorts again).
Contained: runtime_error
Says: RecursionError
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


def key(x):
    return sorted([x, x], key=key)[0]


def on_candles(candles, params):
    s = sorted([1, 2], key=key)
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
