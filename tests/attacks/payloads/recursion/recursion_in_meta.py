"""Tries unbounded recursion inside meta(), before the candles phase.
Contained: runtime_error
Says: RecursionError
"""
# ruff: noqa
# fmt: off
# An attack payload (a template: {{...}} is substituted). See tests/attacks/catalogue.py.


def meta():
    return meta()


def on_candles(candles, params):
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
