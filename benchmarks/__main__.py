"""`make bench`: every benchmark in one run, each figure beside a reference measured in the same
run. Figures, not pass/fail: a shared, noisy machine says nothing about a threshold.

`python -m benchmarks [--quick] [title words...]`: words select sections by title; `--quick`
(or RARA_BENCH_QUICK=1) shrinks the long ones (the gate's research runs) to a smoke run."""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable

from benchmarks.report import Figure, print_figures


def _sections() -> list[tuple[str, Callable[[], list[Figure]]]]:
    from benchmarks import (
        bench_backtest,
        bench_boundary,
        bench_data,
        bench_events,
        bench_gate,
        bench_jail,
        bench_proposer,
        bench_research,
        bench_sandbox,
    )

    return [
        ("market data catalog (525,600 1m bars)", bench_data.run),
        ("event log", bench_events.figures),
        ("strategy runtime, in-process (8,760 1h bars)", bench_sandbox.run),
        ("jail primitive (trivial entry)", bench_jail.run),
        ("sandbox boundary (8,760 1h bars)", bench_boundary.run),
        ("backtest engine (525,600 1m bars)", bench_backtest.run),
        ("built-in proposer, propose() alone", bench_proposer.run),
        ("research loop, built-in proposer", bench_research.run),
        ("gate on noise and on a planted edge (fresh homes, 1h synth)", bench_gate.run),
    ]


def main(args: list[str]) -> int:
    if "--quick" in args:
        os.environ["RARA_BENCH_QUICK"] = "1"
    selected = [a for a in args if a != "--quick"]
    print(f"rara benchmarks on {platform.machine()}, Python {platform.python_version()}")
    for title, run in _sections():
        if selected and not any(s in title for s in selected):
            continue
        t = time.perf_counter()
        print_figures(title, run())
        print(f"   ({time.perf_counter() - t:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
