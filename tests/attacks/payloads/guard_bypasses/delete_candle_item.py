"""Tries `del candles.close[0]` (item deletion goes through the write guard too).
Contained: forbidden | runtime_error
Says: delitem | read-only | cannot
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
    del candles.close[0]
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
