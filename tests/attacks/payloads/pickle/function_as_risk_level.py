"""Tries returning a function object as a risk level, hoping it is pickled back to the host.
Contained: bad_output
Says: stop_loss
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
    return ta.full(n, False), ta.full(n, False)


def risk_levels(candles, params):
    return on_candles, None
