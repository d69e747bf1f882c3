"""Tries a module-level dict as a cache so a longer window's results leak into the next window.
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


CACHE = {}


def on_candles(candles, params):
    n = len(candles)
    seen = CACHE.get("n", 0)
    CACHE["n"] = n
    e = ta.full(n, False)
    e[n - 1] = seen > 0
    return e, ta.full(n, False)
