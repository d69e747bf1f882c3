"""Tries inspect.stack() to read every frame's locals, including the host request.
Contained: lint_failed
Says: '_'
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
    for fr in __import__("inspect").stack():
        print(fr.frame.f_locals)
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
