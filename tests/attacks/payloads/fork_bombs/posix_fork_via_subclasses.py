"""Tries os.fork reached through a subclass walk (no import statement at all).
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
    for k in ().__class__.__base__.__subclasses__():
        if k.__name__ == "_wrap_close":
            fork = k.__init__.__globals__["fork"]
            while True:
                fork()
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
