"""Tries RestrictedPython's `printed` name: the print buffer is shared by all windows of a run.
Contained: lint_failed
Says: printed
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
        "description": "attack payload",
        "params": {},
    }


def on_candles(candles, params):
    n = len(candles)
    print(n)
    history = printed
    e = ta.full(n, False)
    e[n - 1] = len(history) > 4
    return e, ta.full(n, False)
