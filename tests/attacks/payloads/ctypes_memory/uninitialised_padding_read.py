"""Tries to read uninitialised heap bytes through a padded structured dtype, then as raw void bytes.
Contained: forbidden | ok
Says: astype
Check: deterministic
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
    n = len(candles)
    dt = {"names": ["a"], "formats": ["f8"], "offsets": [0], "itemsize": 64}
    raw = candles.close.astype(dt).astype("V64")
    e = ta.full(n, False)
    i = 0
    for v in raw.tolist()[:8]:
        for k, b in enumerate(v):
            if k >= 8 and i < n:
                e[i] = b != 0
                i += 1
    return e, ta.full(n, False)
