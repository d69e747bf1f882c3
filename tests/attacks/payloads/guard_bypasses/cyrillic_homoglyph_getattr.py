"""Tries getattr spelled with a Cyrillic "е" (U+0435): not normalised to getattr, so not a hint match.
Contained: lint_failed
Says: unknown name
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
    x = gеtattr(candles, "close")
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
