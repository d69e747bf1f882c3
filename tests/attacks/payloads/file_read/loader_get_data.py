"""Tries the module loader's get_data(path) (__loader__ / __spec__), a file reader in every module.
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


def on_candles(candles, params):
    print(__loader__.get_data("{{CANARY_READ}}"))
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
