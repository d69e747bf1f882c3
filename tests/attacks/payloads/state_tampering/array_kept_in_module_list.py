"""Tries keeping an array in a module-level list and writing into it, to carry state by reference.
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


KEEP = []


def on_candles(candles, params):
    n = len(candles)
    if not KEEP:
        KEEP.append(ta.full(1000, False))
    box = KEEP[0]
    was = box[0]
    box[0] = True
    e = ta.full(n, False)
    e[n - 1] = was
    return e, ta.full(n, False)
