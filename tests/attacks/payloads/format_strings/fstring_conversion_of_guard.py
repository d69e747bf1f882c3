"""Tries !r / !a conversions of ta functions in f-strings to learn internal module paths.
Contained: lint_failed | forbidden
Says: f-strings
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
    s = f"{ta!r} {ta!a} {candles!r}"
    n = len(candles)
    flag = len(s) > 1000
    return ta.full(n, flag), ta.full(n, False)
