"""Tries type(candles) after binding `type` in another scope, to build new classes with type(...).
Contained: runtime_error
Says: type
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
    type = 1
    return type


def on_candles(candles, params):
    k = type("K", (), {})
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
