"""Benchmarks: figures printed with their ratio to a plain reference measured in the same run.

Not tests: nothing here fails on a slow machine. Run with `make bench`.
"""
