"""Tries freeing a list nested 10**6 deep (deallocation recursion; CPython's trashcan must hold).
Contained: ok
Check: deterministic
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
    for i in range(10 ** 6):
        a = [a]
    a = None
    n = len(candles)
    return ta.full(n, True), ta.full(n, False)
