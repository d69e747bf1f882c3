"""Tries `__import__` spelled with fullwidth low lines (U+FF3F), hoping NFKC folds it after the checks.
Contained: lint_failed | compile_error
Says: U+FF3F | '_'
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
    os = {{FULLWIDTH_IMPORT}}("os")
    os.system("touch {{CANARY_WRITE}}")
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
