"""Tries hidden names in comprehension scopes (.0 iterator, __class__ cell) via comprehension vars.
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
    x = [__class__ for c in [1]]
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
