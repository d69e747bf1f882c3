"""Tries print(..., file=path) to make the print collector write to a file.
Contained: runtime_error
Says: file
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
    print("pwned", file="{{CANARY_WRITE}}")
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
