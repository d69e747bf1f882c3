"""Tries candles.＿＿class＿＿ with fullwidth underscores, hoping identifier normalisation hides it.
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
    k = {{FULLWIDTH_CLASS_ATTRIBUTE}}
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
