"""Tries `del ta.sma` alone (lint checks names on ta, so the deletion itself must be refused).
Contained: lint_failed | forbidden
Says: TaNamespace | not allowed
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
    del ta.sma
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
