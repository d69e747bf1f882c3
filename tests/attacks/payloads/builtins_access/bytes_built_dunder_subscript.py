"""Tries a dunder name decoded from bytes (no literal "__"), used as a subscript on ta and candles.
Contained: forbidden
Says: encoding | cannot index
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
    name = str(b"\x5f\x5fimport\x5f\x5f", "ascii")
    f = ta[name]
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
