"""Tries replacing ta.sma (shared by every window) with another function.
Contained: lint_failed | forbidden
Says: assigning attributes | TaNamespace | 'ta'
Windows: 50, 100, 250, 400
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


def fake(x, n):
    return x


def on_candles(candles, params):
    ta.sma = fake
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
