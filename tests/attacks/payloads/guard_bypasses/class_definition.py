"""Tries a class with __getattribute__/__array__ hooks that numpy would call on its behalf.
Contained: lint_failed
Says: class
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


class Sneaky:
    def __array__(self):
        return __import__("os")


def on_candles(candles, params):
    x = ta.sma(Sneaky(), 3)
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
