"""Tries str.format_map with a dict argument to walk into __globals__.
Contained: lint_failed
Says: format_map
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
    s = "{x.__init__.__globals__}".format_map({"x": candles})
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
