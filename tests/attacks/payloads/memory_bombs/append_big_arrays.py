"""Tries appending 80 MB arrays (ta.full at its 10**7 cap) to a list until memory runs out.
Contained: runtime_error | memory_limit | killed
Says: MemoryError
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
    keep = []
    while True:
        keep.append(ta.full(10 ** 7, 1.0))
