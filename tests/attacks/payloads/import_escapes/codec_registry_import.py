"""Tries to make the codec registry import a module by name: str(bytes, "os") -> encodings lookup.
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
    s = str(b"x", "os")
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
