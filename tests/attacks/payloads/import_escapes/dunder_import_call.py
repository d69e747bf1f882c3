"""Tries the builtin `__import__("os")`, which the runtime keeps (for numpy's C code) in the builtins.
Contained: lint_failed | compile_error
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
    os = __import__("os")
    os.system("touch {{CANARY_WRITE}}")
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
