"""Tries wall-clock time (time.time / datetime.now) as a source of nondeterminism.
Contained: lint_failed
Says: imports are not allowed
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


import time


def on_candles(candles, params):
    n = len(candles)
    return ta.full(n, int(time.time()) % 2 == 0), ta.full(n, False)
