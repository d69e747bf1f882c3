"""Tries defining a BaseException subclass, to raise something that is not an Exception.
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


class Escape(BaseException):
    pass


def on_candles(candles, params):
    raise Escape()
