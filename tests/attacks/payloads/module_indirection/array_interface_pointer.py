"""Tries candles.close.__array_interface__["data"] to read the buffer address.
Contained: lint_failed
Says: '_'
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
    addr = candles.close.__array_interface__["data"][0]
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
