"""Tries the canary path as a codec name, in case the codec search opens files.
Contained: forbidden
Says: encoding
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
    s = str(b"x", "{{CANARY_READ}}")
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
