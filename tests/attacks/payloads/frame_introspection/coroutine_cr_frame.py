"""Tries an async function's coroutine object (cr_frame) as another frame handle.
Contained: lint_failed
Says: async
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


async def probe():
    return 1


def on_candles(candles, params):
    f = probe().cr_frame
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
