"""Tries the idna codec on "HOST:PORT" (name-resolution code inside the child), hoping for a lookup.
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
    s = str(b"{{HOST}}:{{PORT}}", "idna")
    n = len(candles)
    return ta.full(n, len(s) > 3), ta.full(n, False)
