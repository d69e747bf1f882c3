"""Tries attributes of a dict view (params.items().index), a type the whitelist never lists.
items() hands back a plain list (no set-like view), whose index is whitelisted.
Contained: ok | forbidden
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
    i = params.items().index
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
