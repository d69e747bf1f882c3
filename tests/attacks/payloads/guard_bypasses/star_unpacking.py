"""Tries star unpacking (a, *rest = ...), which RestrictedPython guards through a special helper.
Contained: lint_failed
Says: star
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
    a, *rest = [candles.close, candles.open]
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
