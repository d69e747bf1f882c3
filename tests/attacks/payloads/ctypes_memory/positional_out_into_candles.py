"""Passes the out array positionally (cumsum(0, None, candles.open)) to make numpy write into
the candles: refused like out= (numpy 1.24's accumulate ignores the read-only flag).
Contained: forbidden
Says: out=
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
    candles.close.cumsum(0, None, candles.open)
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
