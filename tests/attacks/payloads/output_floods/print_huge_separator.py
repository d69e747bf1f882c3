"""Tries a 10 MB sep= and end= in print(), in case only the objects are bounded.
Contained: ok
Check: print_bounded
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
    big = "s" * 10 ** 7
    print("a", "b", "c", sep=big, end=big)
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
