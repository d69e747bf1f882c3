"""Tries entries one bar short (n - 1 values for n bars).
Contained: bad_output
Says: values for
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
    n = len(candles)
    return ta.full(n - 1, False), ta.full(n, False)
