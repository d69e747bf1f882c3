"""Tries a global system("...") after binding the name in another scope, so lint passes.
Contained: runtime_error
Says: system
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


def helper(system):
    return system


def on_candles(candles, params):
    system("touch {{CANARY_WRITE}}")
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
