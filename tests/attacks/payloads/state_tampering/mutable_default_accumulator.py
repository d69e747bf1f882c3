"""Tries a mutable default argument as an accumulator across calls and windows.
Contained: ok
Check: independent_windows
Windows: 50, 100, 250, 400
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
        "description": "state tampering",
        "params": {"fast": 5, "mode": "a"},
    }


def remember(x, acc=[]):
    acc.append(x)
    return len(acc)


def on_candles(candles, params):
    n = len(candles)
    k = remember(n)
    e = ta.full(n, False)
    e[min(k, n - 1)] = True
    return e, ta.full(n, False)
