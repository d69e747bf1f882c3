"""Tries a walrus inside a comprehension to bind a guard name (_getattr_) in the enclosing scope.
Contained: lint_failed | compile_error
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
    x = [(_getattr_ := y) for y in [1]]
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
