"""Tries a 10 MB assertion message: the error message that comes back must stay bounded.
Contained: runtime_error
Says: AssertionError
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
    assert len(candles) < 0, "m" * 10 ** 7
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
