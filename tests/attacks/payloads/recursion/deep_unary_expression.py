"""Tries 50,000 nested unary minus signs: the C parser's own stack (it gives up with MemoryError).
Contained: lint_failed
Says: syntax
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


DEEP = {{DEEP_UNARY}}


def on_candles(candles, params):
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
