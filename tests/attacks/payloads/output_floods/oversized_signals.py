"""Tries returning 10-million-bar signal arrays for a 500-bar request (a huge response frame).
Contained: bad_output
Says: values for
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
    big = ta.full(10 ** 7, True)
    return big, big
