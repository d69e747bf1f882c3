"""Tries the number parsers (float(), int()) on source code, in case one evaluates expressions.
Contained: runtime_error
Says: could not convert | invalid literal
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
    x = float("__import__('os').system('touch {{CANARY_WRITE}}')")
    y = int("1 + 1")
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
