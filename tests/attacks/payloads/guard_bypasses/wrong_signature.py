"""Tries on_candles(*args, **kwargs) to receive extra objects the runtime might pass.
Contained: lint_failed
Says: args | positional
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


def on_candles(*args, **kwargs):
    n = len(args[0])
    return ta.full(n, False), ta.full(n, False)
