"""Tries `from subprocess import run` inside on_candles, where a module-level check might not look.
Contained: lint_failed
Says: imports are not allowed
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
    from subprocess import run
    run(["touch", "{{CANARY_WRITE}}"])
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
