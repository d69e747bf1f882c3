"""Tries getattr spelled with a Cyrillic "е" (U+0435): not normalised to getattr, so not a hint match.
Contained: lint_failed
Says: unknown name
Known: internal_error where the stdlib is unreadable to uid 65534 (e.g. a pyenv python under /root): non-ASCII identifiers make the parser import unicodedata, which the jailed child cannot, and lint does not catch ImportError (sandbox/rara_sandbox/lint.py lint(), rara/runner/sandbox.py WARM_MODULES)
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
    x = gеtattr(candles, "close")
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
