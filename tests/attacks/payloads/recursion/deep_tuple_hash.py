"""Tries hashing a tuple nested 10**6 deep: CPython 3.11's tuplehash has no recursion guard (SIGSEGV).
Contained: crashed | runtime_error
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
    t = ()
    for i in range(10 ** 6):
        t = (t,)
    d = {t: 1}
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
