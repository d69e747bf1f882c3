"""Tries a guard's name as a keyword argument (_getattr_=...), which lint's name walk never sees.
Contained: compile_error | runtime_error | lint_failed
Says: _getattr_
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
    x = ta.sma(candles.close, n=3, _getattr_=1)
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
