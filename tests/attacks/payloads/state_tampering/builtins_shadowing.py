"""Tries shadowing builtins at module level (sorted, len), hoping they persist into other windows.
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


sorted = reversed
SEEN = []


def on_candles(candles, params):
    n = len(candles)
    SEEN.append(n)
    order = list(sorted([1, 2, 3]))
    e = ta.full(n, False)
    e[0] = order[0] == 3
    e[n - 1] = len(SEEN) > 1
    return e, ta.full(n, False)
