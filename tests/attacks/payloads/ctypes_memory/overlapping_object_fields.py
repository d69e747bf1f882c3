"""Tries a structured dtype whose int64 field overlaps an object field: forge a PyObject pointer.
Contained: runtime_error
Says: overlapping
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
    dt = {"names": ["p", "q"], "formats": ["O", "i8"], "offsets": [0, 0]}
    x = candles.close.astype(dt)
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
