"""Tries a 30,000-term `1+1+...` expression: AST recursion in the parser and every tree walk.
Contained: lint_failed
Says: recursion | depth | parse
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


DEEP = {{DEEP_SUM}}


def on_candles(candles, params):
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
