"""Tries ta.sma over 10**6 bars with a 100,000-bar window: 10**11 additions inside numpy.
Contained: timeout | cpu_limit
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
    x = ta.sma(ta.full(10 ** 6, 1.0), 100000)
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
