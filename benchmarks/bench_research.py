"""The research loop warm in this process (vectorbt imported, page cache warm), built-in proposer
on the shipped BTC/USDT 1h candles, every run in a fresh $RARA_HOME:

- candidates per minute two at a time (what `rara research run` does with the built-in proposer)
  vs the same loop truly one at a time (batch 1, checked on the loop's limits), same seeds;
- where a warm candidate's time goes: per-candidate ms of each step (propose, sandbox, fixes,
  checks, gate and its backtest / statistics / storage, record) against the wall time per
  candidate, so the ratio is the step's share. The sandbox step is wall time with two candidates
  evaluated at once.

The loop's time only: the session's set-up (catalog, stores, sandbox start) is outside it; the end
to end figure is `bench_research_cli`. `REPEATS` runs per batch size (1 with --quick), each a new
seed and a new home; min / median / max over them.
"""

from __future__ import annotations

import os
import sys

from benchmarks.report import Figure, Spread, print_figures, quick
from benchmarks.research_runs import LoopRun, warm_loop

ITERATIONS = 60
REPEATS = 3
STEPS = (
    "propose",
    "sandbox",
    "fixes",
    "checks",
    "gate",
    "gate.backtest",
    "gate.statistics",
    "gate.storage",
    "record",
)


def sizes() -> tuple[int, int]:
    return (10, 1) if quick() else (ITERATIONS, REPEATS)


def run() -> list[Figure]:
    iterations, repeats = sizes()
    warm_loop(2, seed=99, iterations=4)  # warm: vectorbt import, numba cache, page cache
    batched: list[LoopRun] = []
    single: list[LoopRun] = []
    for seed in range(1, repeats + 1):  # interleaved, so both see the same spells of load
        batched.append(warm_loop(2, seed=seed, iterations=iterations))
        single.append(warm_loop(1, seed=seed, iterations=iterations))
    wall = Spread.of(r.ms_per_candidate for r in batched)
    figures = [
        Figure(
            f"warm loop candidates/min, 2 at a time ({iterations})",
            Spread.of(r.per_minute for r in batched),
            "cand/min",
            "same loop, 1 at a time",
            Spread.of(r.per_minute for r in single),
            "batch 2 = rara research run",
        ),
        Figure(
            "warm loop wall time per candidate",
            wall,
            "ms",
            "1 at a time",
            Spread.of(r.ms_per_candidate for r in single),
        ),
    ]
    for step in STEPS:
        if any(step in r.steps for r in batched):
            figures.append(
                Figure(
                    f"  per candidate: {step}",
                    Spread.of(r.steps.get(step, 0.0) / r.iterations for r in batched),
                    "ms",
                    "wall time per candidate",
                    wall,
                    "ratio = share; 2 candidates at once" if step == "sandbox" else "ratio = share",
                    acceptance="11.4" if step == "sandbox" else "",
                )
            )
    outcomes = [r.counts for r in batched]
    print(f"   outcomes (2 at a time, per seed): {outcomes}")
    return figures


if __name__ == "__main__":
    if "--quick" in sys.argv[1:]:
        os.environ["RARA_BENCH_QUICK"] = "1"
    print_figures("research loop warm in-process, built-in proposer (fresh homes)", run())
