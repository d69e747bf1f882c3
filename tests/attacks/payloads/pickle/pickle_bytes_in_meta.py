"""Tries a pickle opcode stream (cos/system) as meta's description, hoping the host unpickles it.
Contained: bad_meta
Says: description
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
        "description": b"cos\nsystem\n(S'touch {{CANARY_WRITE}}'\ntR.",
        "params": {},
    }


def on_candles(candles, params):
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
