"""Tries to take `print` as a value (p = print: RestrictedPython's collector method) and walk it.
Contained: forbidden
Says: method
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
    p = print
    p("collector reached")
    q = p.copy
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
