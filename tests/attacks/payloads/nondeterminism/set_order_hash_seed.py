"""Tries to make signals depend on the iteration order of a set of strings (per-process hash seed).
Set displays are refused outright (hash order).
Contained: lint_failed | ok
Says: set
Check: deterministic
Windows: 300, 400
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


WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
         "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"]


def on_candles(candles, params):
    n = len(candles)
    order = [w for w in {w for w in WORDS}]
    e = ta.full(n, False)
    for i in range(len(order)):
        e[i * 16 + WORDS.index(order[i])] = True
    return e, ta.full(n, False)
