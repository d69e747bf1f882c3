"""Tries Python source as a numpy dtype string, in case dtype parsing evaluates it.
Contained: runtime_error
Says: data type
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
    x = candles.close.astype("__import__('os').system('touch {{CANARY_WRITE}}')")
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
