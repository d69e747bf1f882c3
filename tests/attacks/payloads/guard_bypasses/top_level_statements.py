"""Tries executable statements at module level (a loop and an expression), outside any function.
Contained: lint_failed
Says: top level
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


for i in range(3):
    print(i)

print("module level")


def on_candles(candles, params):
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
