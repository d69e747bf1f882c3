"""Tries mutating the dict meta() returns (from on_candles), hoping the host's copy changes.
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
    m = meta()
    m["params"]["fast"] = 999
    m["lookback"] = -1
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
