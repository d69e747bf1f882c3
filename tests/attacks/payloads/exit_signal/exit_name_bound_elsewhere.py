"""Tries a global exit() after binding the name elsewhere, so lint's name check passes.
Contained: runtime_error
Says: exit
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


def helper(exit):
    return exit


def on_candles(candles, params):
    exit(0)
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
