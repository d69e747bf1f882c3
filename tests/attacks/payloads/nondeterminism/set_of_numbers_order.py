"""Tries set iteration order of numbers (their hashes are not randomised: deterministic).
Set displays are refused outright (hash order).
Contained: lint_failed | ok
Says: set
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
    n = len(candles)
    order = [x for x in {97, 13, 55, 2, 1000003, 31}]
    e = ta.full(n, False)
    for i in range(len(order)):
        e[i * 6 + [97, 13, 55, 2, 1000003, 31].index(order[i])] = True
    return e, ta.full(n, False)
