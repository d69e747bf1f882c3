"""Tries to learn which window it is in from heap addresses in reprs (str(on_candles) vs str(range)).
Contained: forbidden
Says: str() of function
Check: independent_windows
Windows: 50, 100, 250, 400
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
        "description": "state tampering",
        "params": {"fast": 5, "mode": "a"},
    }


def address(obj):
    text = str(obj)
    return int(text.split(" at ")[-1].replace(">", ""), 16)


def on_candles(candles, params):
    n = len(candles)
    d = address(on_candles) - address(range)
    e = ta.full(n, False)
    for i in range(min(n, 40)):
        e[i] = ((d >> (i + 3)) & 1) == 1
    return e, ta.full(n, False)
