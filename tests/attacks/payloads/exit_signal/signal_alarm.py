"""Tries signal.alarm / os.kill(os.getppid(), SIGKILL) to hit the zygote.
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
import signal


def on_candles(candles, params):
    signal.alarm(1)
    os.kill(os.getppid(), signal.SIGKILL)
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
