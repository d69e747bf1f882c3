"""Tries pickle bytes as a param default, so the host stores and later loads it.
Contained: bad_meta
Says: param
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
        "description": "x",
        "params": {"blob": b"\x80\x04cos\nsystem\n(S'id'\ntR."},
    }


def on_candles(candles, params):
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
