"""Tries ta.array(path), in case the constructor reads a file name like numpy's loaders.
Contained: runtime_error
Says: ta.array
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
    x = ta.array("{{CANARY_READ}}")
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
