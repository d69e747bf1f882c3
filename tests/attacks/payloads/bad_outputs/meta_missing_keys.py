"""Tries a meta() without timeframe/lookback and with an extra key.
Contained: bad_meta
Says: keys
"""
# ruff: noqa
# fmt: off
# An attack payload (a template: {{...}} is substituted). See tests/attacks/catalogue.py.


def meta():
    return {"name": "attack", "version": "1.0.0", "api_version": 1, "description": "x",
            "params": {}, "extra": 1}


def on_candles(candles, params):
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
