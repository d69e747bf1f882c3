"""Tries mutating params in on_candles so risk_levels (and the next window) see other values.
Contained: ok
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


def on_candles(candles, params):
    n = len(candles)
    params["fast"] = params["fast"] + n
    params["mode"] = "b"
    e = ta.full(n, False)
    e[min(params["fast"], n - 1)] = True
    return e, ta.full(n, False)


def risk_levels(candles, params):
    stop = 0.5 if params["mode"] == "b" else 0.01
    return stop, None
