"""Tries an exception's __traceback__.tb_frame.f_back to reach the evaluator's locals.
Contained: lint_failed
Says: try | '_'
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
    try:
        1 / 0
    except ZeroDivisionError as e:
        f = e.__traceback__.tb_frame.f_back.f_locals
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
