"""Tries returning an object-dtype array as entries, hoping the host pickles or coerces it.
Contained: bad_output
Says: dtype object
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
    e = ta.full(n, True).astype("O")
    return e, ta.full(n, False)
