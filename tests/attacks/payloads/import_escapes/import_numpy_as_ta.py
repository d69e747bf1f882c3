"""Tries to shadow `ta` with the real numpy module via `import numpy as ta`.
Contained: lint_failed
Says: imports are not allowed | rebind
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


import numpy as ta


def on_candles(candles, params):
    ta.save("{{CANARY_WRITE}}", candles.close)
    n = len(candles)
    return ta.zeros(n, bool), ta.zeros(n, bool)
