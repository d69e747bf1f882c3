"""Strategy sources the tests share: small modules that each break one rule on purpose."""

from __future__ import annotations

# Reads the next bar's close: the look-ahead every causality check must catch.
PEEKS_AT_NEXT_CLOSE = """
def meta():
    return {"name": "peek", "version": "1.0.0", "api_version": 1, "timeframe": "1h",
            "lookback": 1, "description": "tomorrow's close", "params": {}}


def on_candles(candles, params):
    close = candles.close
    nxt = close.copy()
    nxt[:-1] = close[1:]
    up = nxt > close
    return up, ta.logical_not(up)
"""
