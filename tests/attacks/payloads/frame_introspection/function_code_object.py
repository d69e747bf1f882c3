"""Tries on_candles.__code__.co_consts / replace() to rebuild itself without the guards.
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
    code = on_candles.__code__.replace(co_names=("open",))
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
