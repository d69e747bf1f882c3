"""Tries __reduce_ex__ on an array: the reconstructor callable it returns is a module function.
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
    fn, args = candles.close.__reduce_ex__(2)[:2]
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
