"""Tries a million print() calls: the collector must stop storing at 16 KiB and say it truncated.
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
    for i in range(10 ** 6):
        print(i, "flood")
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
