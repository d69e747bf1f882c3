"""Tries "".join of 10**4 references to one 1 MB string: cheap to build (aliasing), 10 GB to join.
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
    chunks = ["x" * 10 ** 6] * 10 ** 4
    s = "".join(chunks)
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
