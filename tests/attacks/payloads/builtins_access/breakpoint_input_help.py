"""Tries interactive builtins: breakpoint(), input() and help() (a pdb or pager in the child).
Contained: lint_failed
Says: not allowed | unknown name
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
    breakpoint()
    x = input()
    help(ta)
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
