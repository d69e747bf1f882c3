"""Tries raw float bytes (astype V8) recast to an object field, then calls the "object" it got.
Contained: forbidden | runtime_error
Says: astype | not callable
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
    raw = candles.close.astype("V8")
    objs = raw.astype([("p", "O")])
    objs.item(0)[0]()
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
