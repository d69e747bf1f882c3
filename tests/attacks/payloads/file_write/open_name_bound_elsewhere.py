"""Tries open(path, "w") after binding `open` as a parameter elsewhere, so lint passes.
Contained: runtime_error
Says: open
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


def helper(open):
    return open


def on_candles(candles, params):
    print(open("{{CANARY_WRITE}}", "w"), "pwned")
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
