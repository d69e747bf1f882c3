"""Tries "{0.__class__.__mro__}".format(candles): str.format walks attributes without our getattr.
Contained: lint_failed
Says: format
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
    s = "{0.__class__.__init__.__globals__}".format(candles)
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
