"""Tries to derive signals from a heap address printed by a function's repr (ASLR, allocator state).
Contained: lint_failed | forbidden
Says: f-strings
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
    text = f"{on_candles!r}"
    a = int(text.split(" at ")[-1].replace(">", ""), 16)
    e = ta.full(n, False)
    for i in range(48):
        e[i] = ((a >> i) & 1) == 1
    return e, ta.full(n, False)
