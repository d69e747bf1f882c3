"""Tries a multiprocessing pool of 1000 workers.
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


import multiprocessing


def on_candles(candles, params):
    multiprocessing.Pool(1000).map(len, [[1]] * 1000)
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
