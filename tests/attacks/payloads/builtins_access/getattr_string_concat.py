"""Tries getattr with a name built by concatenation ("_" + "_class" + "__") to dodge literal checks.
Contained: lint_failed
Says: getattr
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
    u = "_"
    c = getattr(candles, u + u + "class" + u + u)
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
