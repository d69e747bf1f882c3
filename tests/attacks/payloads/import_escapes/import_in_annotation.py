"""Tries an import hidden in a module-level annotation (annotations are evaluated at module level).
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


LIMIT: __import__("os").system("touch {{CANARY_WRITE}}") = 1


def on_candles(candles, params):
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
