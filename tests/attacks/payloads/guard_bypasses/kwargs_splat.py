"""Tries **{...} in a call, so keyword names are data (e.g. dunders) rather than source text.
Contained: lint_failed
Says: kwargs
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
    x = ta.sma(**{"x": candles.close, "n": 3})
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
