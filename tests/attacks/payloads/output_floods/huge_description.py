"""Tries a 10 MB meta description (meta travels back to the host and into the registry).
Contained: bad_meta
Says: description
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
        "description": "d" * 10 ** 7,
        "params": {},
    }


def on_candles(candles, params):
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
