"""Tries the (base, fields) union dtype form to view float64 storage as an object field.
Contained: runtime_error
Says: not supported
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
    x = candles.close.astype(("f8", [("p", "O")]))
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
