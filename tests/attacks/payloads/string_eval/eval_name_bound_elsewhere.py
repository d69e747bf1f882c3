"""Tries eval() after binding the name `eval` in another function, so lint's name check passes.
Contained: compile_error | runtime_error
Says: eval
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
    eval = None
    return eval


def on_candles(candles, params):
    eval("__import__('os')")
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
