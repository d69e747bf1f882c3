"""Tries "%(close)s" % candles, using the facade as a mapping to read its columns by name.
Contained: lint_failed | forbidden
Says: %-formatting
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
    s = "%(close)s %(_close)s" % candles
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
