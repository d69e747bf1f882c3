"""Tries a NaN scalar take profit (NaN is allowed per bar in arrays, not as a scalar).
Contained: bad_output
Says: take_profit
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
    return None, ta.nan
