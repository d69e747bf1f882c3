"""Tries a closure's __closure__[0].cell_contents to pull a value out of an enclosing frame.
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


def outer(x):
    def inner():
        return x
    return inner


def on_candles(candles, params):
    cell = outer(candles).__closure__[0].cell_contents
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
