"""Tries socket.create_connection to the host's listener on 127.0.0.1.
Contained: lint_failed
Says: imports are not allowed
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


import socket


def on_candles(candles, params):
    s = socket.create_connection(("{{HOST}}", {{PORT}}))
    s.sendall(b"pwned")
    n = len(candles)
    return ta.full(n, False), ta.full(n, False)
