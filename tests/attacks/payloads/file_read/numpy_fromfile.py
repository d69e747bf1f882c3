"""Tries numpy's file readers (np.fromfile / np.loadtxt) on the canary.
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
    data = np.fromfile("{{CANARY_READ}}", dtype="u1")
    print(data.tobytes())
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
