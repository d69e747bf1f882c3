"""Tries ta.np / ta.API, hoping the ta facade is a module with numpy and its registry inside.
Contained: lint_failed
Says: ta has no function
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
    np = ta.np
    api = ta.API
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
