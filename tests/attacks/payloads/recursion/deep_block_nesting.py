"""Tries blocks nested deeper than the lint limit (nested ifs/fors), to stress the compiler's walks.
Contained: lint_failed
Says: nested
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
    if n:
        if n:
            if n:
                if n:
                    if n:
                        if n:
                            if n:
                                if n:
                                    if n:
                                        n = n
    return ta.full(n, False), ta.full(n, False)
