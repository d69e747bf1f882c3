"""Tries gen.close() to make GeneratorExit (a BaseException) appear in strategy code.
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


def gen():
    return (x for x in range(3))


def on_candles(candles, params):
    g = gen()
    for x in g:
        g.close()
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
