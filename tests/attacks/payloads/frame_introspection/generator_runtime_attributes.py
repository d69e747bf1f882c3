"""Tries generator attributes without underscores (gi_code, gi_suspended) that a '_' rule misses.
Contained: lint_failed
Says: not available
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
    g = (x for x in [1])
    c = g.gi_code
    s = g.gi_suspended
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
