"""Tries ta.sma.__globals__ (a plain Python function in rara_sandbox.ta) to reach its module globals.
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
    g = ta.sma.__globals__
    g["np"].save("{{CANARY_WRITE}}", candles.close)
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
