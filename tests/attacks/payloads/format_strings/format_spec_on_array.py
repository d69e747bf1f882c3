"""Tries a printf-like format spec on an ndarray, f"{candles.close:%s}", to reach its __format__.
Contained: lint_failed
Says: f-strings
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
    s = f"{candles.close:%s}"
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
