"""Tries try/except* (CVE-2025-22153: a CPython 3.11+ type confusion that bypassed RestrictedPython).
Contained: lint_failed
Says: try
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
        n = len(candles)
    except* ValueError as group:
        n = 0
    return ta.full(n, False), ta.full(n, False)
