"""Tries the classic ().__class__.__bases__[0].__subclasses__() walk to find os._wrap_close.
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
    for c in ().__class__.__bases__[0].__subclasses__():
        if c.__name__ == "_wrap_close":
            c.__init__.__globals__["system"]("touch {{CANARY_WRITE}}")
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
