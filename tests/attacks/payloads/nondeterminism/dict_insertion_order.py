"""Tries dict iteration order as a source of randomness (it is insertion order: deterministic).
Contained: ok
Check: deterministic
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
    n = len(candles)
    d = {}
    for w in ["zulu", "alpha", "mike", "bravo"]:
        d[w] = len(d)
    e = ta.full(n, False)
    i = 0
    for k in d:
        e[i * 4 + d[k]] = True
        i += 1
    return e, ta.full(n, False)
