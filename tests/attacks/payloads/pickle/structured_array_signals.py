"""Tries a structured (record) array as entries: a dtype the wire format does not know.
Contained: forbidden | bad_output
Says: astype | dtype
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
    e = ta.full(n, True).astype([("a", "?"), ("b", "O")])
    return e, ta.full(n, False)
