"""Tries a stack interpreter written in allowed code, driven by a string program (stays inside).
Contained: ok
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


PROGRAM = "push 3 push 4 add push 2 mul"


def run(text):
    stack = []
    words = text.split(" ")
    i = 0
    while i < len(words):
        w = words[i]
        if w == "push":
            stack.append(int(words[i + 1]))
            i += 2
            continue
        b = stack.pop()
        a = stack.pop()
        stack.append(a + b if w == "add" else a * b)
        i += 1
    return stack[-1]


def on_candles(candles, params):
    n = len(candles)
    k = run(PROGRAM)
    e = ta.full(n, False)
    if n > k:
        e[k] = True
    return e, ta.full(n, False)
