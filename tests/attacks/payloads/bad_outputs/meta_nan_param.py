"""Tries a NaN param default (and a bad name), which would not survive JSON on the host.
Contained: bad_meta
Says: finite | param
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
        "description": "x",
        "params": {"level": ta.nan},
    }


def on_candles(candles, params):
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
