"""Tries starting thousands of threads (threading via import).
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


from threading import Thread


def spin():
    while True:
        pass


def on_candles(candles, params):
    for i in range(10000):
        Thread(target=spin).start()
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
