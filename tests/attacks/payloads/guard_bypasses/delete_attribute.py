"""Tries `del candles.close` (attribute deletion is another store path than assignment).
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
    del candles.close
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
