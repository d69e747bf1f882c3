"""The research loop with the built-in proposer on the shipped BTC/USDT 1h candles: candidates
per minute end to end (target >= 600 on this 2-core machine), against the same loop evaluating one
candidate at a time, and where a candidate's time goes."""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

from benchmarks.report import Figure, print_figures

ITERATIONS = 60


def _session(batch: int, seed: int, iterations: int) -> tuple[float, dict[str, float], Any]:
    from rara.config import Settings
    from rara.home import Home
    from rara.research import loop as loop_mod
    from rara.research.run_setup import RunConfig
    from rara.research.session import ResearchSession

    cfg = RunConfig(
        exchange="binance",
        symbol="BTC/USDT",
        timeframe="1h",
        proposer="builtin",
        model=None,
        seed=seed,
        iterations=iterations,
        max_cost_usd=None,
        max_duration_s=None,
        backend="subprocess",
    )
    original = loop_mod.RunLimits.batch
    loop_mod.RunLimits.batch = batch  # the dataclass default the session uses
    try:
        with ResearchSession(cfg, Settings(), Home.from_env()) as session:
            t = time.perf_counter()
            summary = session.run()
            elapsed = time.perf_counter() - t
            steps = {
                **summary["timings_ms"],
                **{f"gate.{k}": v for k, v in session.gate.timings.items()},
            }
    finally:
        loop_mod.RunLimits.batch = original
    return elapsed, steps, summary


def run() -> list[Figure]:
    old_home = os.environ.get("RARA_HOME")
    with tempfile.TemporaryDirectory(prefix="rara-bench-research-") as home:
        os.environ["RARA_HOME"] = home
        try:
            _session(2, seed=99, iterations=4)  # warm: vectorbt import, zygote, page cache
            batched, steps, summary = _session(2, seed=1, iterations=ITERATIONS)
            single, _, _ = _session(1, seed=2, iterations=ITERATIONS)
        finally:
            if old_home is None:
                os.environ.pop("RARA_HOME", None)
            else:
                os.environ["RARA_HOME"] = old_home
    per_min = ITERATIONS / batched * 60
    figures = [
        Figure(
            "built-in candidates per minute (batches of 2)",
            per_min,
            "cand/min",
            "one at a time",
            ITERATIONS / single * 60,
            "target >= 600",
        )
    ]
    wall_ms = batched * 1000 / ITERATIONS
    for step in (
        "propose",
        "sandbox",
        "fixes",
        "checks",
        "gate",
        "gate.backtest",
        "gate.statistics",
        "gate.storage",
        "record",
    ):
        if step in steps:
            figures.append(
                Figure(
                    f"  per candidate: {step}",
                    steps[step] / ITERATIONS,
                    "ms",
                    "wall time per candidate",
                    wall_ms,
                    "sandbox runs 2 at once" if step == "sandbox" else "",
                )
            )
    print(f"   outcomes: {summary['counts']}")
    return figures


if __name__ == "__main__":
    print_figures(f"research loop, built-in proposer ({ITERATIONS} candidates)", run())
