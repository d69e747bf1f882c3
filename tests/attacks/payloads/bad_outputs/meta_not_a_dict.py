"""Tries meta() returning a list of pairs instead of a dict.
Contained: bad_meta
Says: dict
"""
# ruff: noqa
# fmt: off
# An attack payload (a template: {{...}} is substituted). See tests/attacks/catalogue.py.


def meta():
    return [("name", "attack"), ("version", "1.0.0")]


def on_candles(candles, params):
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
