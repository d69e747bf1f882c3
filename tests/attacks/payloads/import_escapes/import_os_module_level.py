"""Tries a plain `import os` at module level to reach the operating system.
Contained: lint_failed
Says: imports are not allowed
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


import os


def on_candles(candles, params):
    os.system("touch {{CANARY_WRITE}}")
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
