"""Tries a source over the 64 KiB limit (70 KiB of comments).
Contained: lint_failed
Says: limit
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


{{BIG_COMMENT}}


def on_candles(candles, params):
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
