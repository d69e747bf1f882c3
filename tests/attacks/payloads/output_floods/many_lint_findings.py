"""Tries 2,000 distinct unknown names, so the lint report (which goes back whole) balloons.
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


FLOOD = [{{MANY_NAMES}}]


def on_candles(candles, params):
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
