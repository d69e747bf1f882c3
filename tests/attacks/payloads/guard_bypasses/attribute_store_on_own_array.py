"""Tries attribute assignment on an array it owns (a.flags / a.shape), e.g. to make it writable.
Contained: lint_failed
Says: assigning attributes | not allowed
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
    a = candles.close.copy()
    a.shape = (1, len(a))
    candles.close.flags = None
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
