"""Tries `x += 1` where x aliases a candle array, hoping the in-place operator writes through.
Contained: ok
Check: deterministic
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
    x = candles.close
    x += 1.0
    x *= 0.0
    e = ta.full(n, False)
    e[0] = candles.close[0] == 0.0
    return e, ta.full(n, False)
