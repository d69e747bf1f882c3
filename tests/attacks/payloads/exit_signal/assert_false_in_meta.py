"""Tries to end the run early from meta() with a failing assert, before any window is evaluated.
Contained: runtime_error
Says: meta()
"""
# ruff: noqa
# fmt: off
# An attack payload (a template: {{...}} is substituted). See tests/attacks/catalogue.py.


def meta():
    assert False, "leaving early"


def on_candles(candles, params):
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
