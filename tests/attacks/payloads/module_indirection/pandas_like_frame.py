"""Tries DataFrame-style accessors on the facade (candles.df, candles.to_pandas()) to reach pandas.
Contained: lint_failed
Says: not available
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
    df = candles.to_pandas()
    df.to_csv("{{CANARY_WRITE}}")
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
