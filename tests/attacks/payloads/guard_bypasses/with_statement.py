"""Tries a with statement (context managers call __enter__/__exit__ without the getattr guard).
Contained: lint_failed
Says: with
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
    with candles as c:
        n = len(c)
    return ta.full(n, False), ta.full(n, False)
