"""Tries `close`, a name lint allows (a candles column), on a generator object: gen.close().
Contained: forbidden
Says: generator
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
    g = (x for x in range(3))
    g.close()
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
