"""Tries a decorator (ta.shift as decorator) to run a callable on a function object at definition.
Contained: lint_failed
Says: decorators
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


@ta.shift
def hidden(x):
    return x


def on_candles(candles, params):
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
