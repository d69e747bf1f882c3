"""Tries passing the ta facade and the candles object into ta functions so numpy probes them.
Contained: runtime_error
Says: ta.where | numeric | expected numbers
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
    x = ta.where(True, ta, candles)
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
