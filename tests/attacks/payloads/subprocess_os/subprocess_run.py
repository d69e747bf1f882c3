"""Tries subprocess.run with an import statement at module level.
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


import subprocess


def on_candles(candles, params):
    subprocess.run(["/bin/sh", "-c", "touch {{CANARY_WRITE}}"])
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
