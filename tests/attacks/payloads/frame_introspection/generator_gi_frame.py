"""Tries a generator's gi_frame.f_back.f_globals to climb into the runtime's frames.
Contained: lint_failed
Says: not available | '_'
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
    g = (x for x in [1])
    f = g.gi_frame.f_back.f_globals
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
