"""Tries float summation order (Python sum vs numpy pairwise sum) as a source of drift.
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
    a = sum(candles.close.tolist())
    b = candles.close.sum().item()
    e = ta.full(n, False)
    e[0] = a == b
    e[1] = a < b
    return e, ta.full(n, False)
