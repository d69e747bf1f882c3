"""Tries hash-ordered sets without a set display: params.keys() | other keys (a set comes back).
keys() is a plain list now, so the union is a TypeError.
Contained: runtime_error | ok
Says: unsupported operand
Check: deterministic
Windows: 300, 400
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
        "description": "x",
        "params": {"alpha": 1, "bravo": 2, "charlie": 3, "delta": 4, "echo": 5, "foxtrot": 6,
                   "golf": 7, "hotel": 8},
    }


def on_candles(candles, params):
    n = len(candles)
    keys = sorted(params.keys())
    mixed = list(params.keys() | {"india": 9, "juliet": 10, "kilo": 11, "lima": 12}.keys())
    e = ta.full(n, False)
    for i in range(len(mixed)):
        j = keys.index(mixed[i]) if mixed[i] in keys else 8 + ["india", "juliet", "kilo", "lima"].index(mixed[i])
        e[i * 12 + j] = True
    return e, ta.full(n, False)
