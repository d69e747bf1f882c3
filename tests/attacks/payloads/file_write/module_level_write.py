"""Tries writing at import time, from a module-level constant expression, before any check runs.
Contained: lint_failed
Says: open
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


PWNED = open("{{CANARY_WRITE}}", "w").write("pwned")


def on_candles(candles, params):
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
