"""Tries an endless loop inside meta(), before any candles are looked at.
Contained: timeout | cpu_limit
"""
# ruff: noqa
# fmt: off
# An attack payload (a template: {{...}} is substituted). See tests/attacks/catalogue.py.


def meta():
    while True:
        pass


def on_candles(candles, params):
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
