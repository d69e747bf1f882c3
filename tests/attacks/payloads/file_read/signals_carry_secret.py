"""Tries to read the secret with open() and smuggle it out bit by bit in the entries array.
Contained: lint_failed
Says: open
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
    text = open("{{CANARY_READ}}").read()
    n = len(candles)
    e = ta.full(n, False)
    i = 0
    for ch in text:
        for b in range(8):
            e[i] = ((ord(ch) >> (7 - b)) & 1) == 1
            i += 1
    return e, ta.full(n, False)
