"""Tries == between two lists nested 10**5 deep (C-level recursion in rich comparison).
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


def on_candles(candles, params):
    a = []
    b = []
    for i in range(10 ** 5):
        a = [a]
        b = [b]
    same = a == b
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
