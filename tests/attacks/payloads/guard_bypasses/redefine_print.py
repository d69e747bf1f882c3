"""Tries defining a function named print, to hijack RestrictedPython's print rewriting.
Contained: compile_error | lint_failed
Says: print
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


def print(x):
    return x


def on_candles(candles, params):
    print(1)
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
