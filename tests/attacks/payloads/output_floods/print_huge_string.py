"""Tries one print() of a 100 MB string.
Contained: ok | runtime_error | memory_limit | killed
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
    print("x" * 10 ** 8)
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
