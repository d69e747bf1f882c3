"""Tries exec() after binding `exec` as another function's parameter.
Contained: compile_error | runtime_error
Says: exec
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


def helper(exec):
    return exec


def on_candles(candles, params):
    exec("import os")
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
