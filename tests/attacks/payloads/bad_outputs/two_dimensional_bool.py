"""Tries an (n, 1) bool array built with a subarray dtype (right dtype, right first dimension).
Contained: bad_output | runtime_error | forbidden
Says: 1-D | broadcast | astype
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
    x = (candles.close > 0).astype(("?", (1,)))
    return x, x
