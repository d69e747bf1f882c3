"""Tries candles.__class__.__init__.__globals__ to reach the facade module's numpy.
Contained: lint_failed
Says: '_'
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
    np = candles.__class__.__init__.__globals__["np"]
    np.save("{{CANARY_WRITE}}", candles.close)
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
