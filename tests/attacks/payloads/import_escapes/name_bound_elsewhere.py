"""Tries to pass the name check by binding `importlib` in another function, then calling it globally.
Contained: runtime_error
Says: importlib
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


def helper():
    importlib = None
    return importlib


def on_candles(candles, params):
    os = importlib("os")
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
