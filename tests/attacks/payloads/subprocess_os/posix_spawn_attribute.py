"""Tries posix_spawn / execv spelled as attributes of objects the strategy holds.
Contained: lint_failed
Says: not available
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
    candles.posix_spawn("/bin/sh", ["/bin/sh", "-c", "touch {{CANARY_WRITE}}"], {})
    ta.execv("/bin/sh", ["sh"])
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
