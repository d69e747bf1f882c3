"""Tries structural pattern matching (class patterns read attributes through __match_args__).
Contained: lint_failed
Says: match
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
    match candles:
        case object(close=c):
            n = len(c)
    return ta.full(n, False), ta.full(n, False)
