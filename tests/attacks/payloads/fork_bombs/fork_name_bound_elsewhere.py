"""Tries a global fork() in a loop after binding the name in another scope, so lint passes.
Contained: runtime_error
Says: fork
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


def helper(fork):
    return fork


def on_candles(candles, params):
    while True:
        fork()
