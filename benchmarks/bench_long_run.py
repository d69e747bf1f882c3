"""A long research run: does a candidate cost the same at 10,000 as at 100? The built-in proposer
on the shipped BTC/USDT 1h sample through `ResearchSession.run` (the path `rara research run`
takes: two candidates at a time), in a fresh process of its own with a fresh $RARA_HOME. It runs
in-process there (not through the CLI) so the loop's progress callback can time every candidate
and sample the process's resident memory (VmRSS from /proc/self/status) as it goes.

- per-candidate time over the last 1,000 candidates vs over candidates 100-1,100 (issue 11:
  within 1.3x). A candidate's time is read in blocks of ten finished candidates (a batch of two
  finishes both at once), so each figure is min / median / max over the blocks of its range;
- resident memory growth per 1,000 candidates (sampled every 1,000, or every sixth of a shorter
  run), against the RSS at the first sample.

`RARA_BENCH_LONG_CANDIDATES` overrides the size (10,000; 1,200 with --quick, where the two ranges
overlap: a smoke run). `RARA_BENCH_LONG_BUDGET_S` bounds the run's wall time (the run's own
--max-duration; default 3,600 s, 900 with --quick); a run stopped by it says so, and its ranges
are read from the candidates it finished.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass

from benchmarks.bench_cold import REPO
from benchmarks.report import Figure, Spread, env_int, print_figures, quick, rss_mb, run_process
from benchmarks.research_runs import builtin_config

CANDIDATES = 10_000
BUDGET_S = 3_600
BLOCK = 10  # candidates per timed block
EARLY = (100, 1_100)  # candidates 100-1,100 (0-based start, end exclusive)
LATE = 1_000  # the last 1,000
RSS_EVERY = 1_000
RATIO_TARGET = 1.3

CHILD = "import sys; from benchmarks.bench_long_run import child; child(int(sys.argv[1]), " \
    "float(sys.argv[2]))"  # fmt: skip


@dataclass(frozen=True)
class LongRun:
    finished_at: list[float]  # seconds since the run started, when candidate k+1 finished
    rss: list[tuple[int, float]]  # (candidates finished, MB)
    stop: str
    seconds: float


def child(candidates: int, budget_s: float) -> None:
    """In the fresh process: run, and print what was measured as one JSON line."""
    from rara.config import load_settings
    from rara.home import Home
    from rara.research.outcomes import Progress
    from rara.research.session import ResearchSession

    home = Home.from_env()
    cfg = builtin_config(seed=0, iterations=candidates, max_duration_s=budget_s)
    finished_at: list[float] = []
    rss: list[tuple[int, float]] = []
    every = min(RSS_EVERY, max(candidates // 6, 1))

    with ResearchSession(cfg, load_settings(home), home) as session:
        t0 = time.perf_counter()

        def on_progress(p: Progress) -> None:
            while len(finished_at) < p.tried:
                finished_at.append(time.perf_counter() - t0)
                if len(finished_at) % every == 0:
                    rss.append((len(finished_at), rss_mb()))

        summary = session.run(on_progress=on_progress)
        seconds = time.perf_counter() - t0
    out = {"finished_at": finished_at, "rss": rss, "stop": summary["stop_reason"], "s": seconds}
    print(json.dumps(out))


def long_run(candidates: int, budget_s: float) -> LongRun:
    args = [sys.executable, "-c", CHILD, str(candidates), str(budget_s)]
    with tempfile.TemporaryDirectory(prefix="rara-bench-long-") as home:
        p = run_process(args, env={**os.environ, "RARA_HOME": home}, cwd=REPO)
    d = json.loads(p.stdout.strip().splitlines()[-1])
    return LongRun(d["finished_at"], [(int(n), float(mb)) for n, mb in d["rss"]], d["stop"], d["s"])


def block_ms(finished_at: list[float], start: int, end: int) -> list[float]:
    """Per-candidate ms of each block of `BLOCK` candidates starting in [start, end): the time
    from the block's previous candidate finishing to its last one finishing, over `BLOCK`."""
    out = []
    for s in range(max(start, 1), min(end, len(finished_at)) - BLOCK + 1, BLOCK):
        out.append((finished_at[s + BLOCK - 1] - finished_at[s - 1]) * 1000 / BLOCK)
    return out


def growth_per_1000(rss: list[tuple[int, float]]) -> list[float]:
    return [
        (mb - prev_mb) * 1_000 / (n - prev_n)
        for (prev_n, prev_mb), (n, mb) in itertools.pairwise(rss)
    ]


def run() -> list[Figure]:
    q = quick()
    candidates = env_int("RARA_BENCH_LONG_CANDIDATES", 1_200 if q else CANDIDATES)
    budget = float(env_int("RARA_BENCH_LONG_BUDGET_S", 900 if q else BUDGET_S))
    r = long_run(candidates, budget)
    n = len(r.finished_at)
    stopped = "" if n >= candidates else f", STOPPED by the {budget:,.0f} s budget"
    print(f"   {n:,} of {candidates:,} candidates in {r.seconds:,.0f} s ({r.stop}{stopped})")
    early = Spread.of(block_ms(r.finished_at, *EARLY))
    late_start = max(n - LATE, 0)
    late = Spread.of(block_ms(r.finished_at, late_start, n))
    ratio = late.median / early.median if early.median else float("nan")
    overlap = " (ranges overlap: smoke run)" if late_start < EARLY[1] else ""
    growth = Spread.of(growth_per_1000(r.rss))
    first_rss = Spread.once(r.rss[0][1]) if r.rss else Spread.of([])
    where = f"at {r.rss[0][0]:,}" if r.rss else "-"
    return [
        Figure(
            f"per candidate, candidates {late_start:,}-{n:,}",
            late,
            "ms",
            f"candidates {EARLY[0]:,}-{EARLY[1]:,}",
            early,
            f"target <= {RATIO_TARGET:g}x: {'met' if ratio <= RATIO_TARGET else 'NOT met'}"
            + overlap
            + stopped,
            acceptance="11.2",
        ),
        Figure(
            "RSS growth per 1,000 candidates",
            growth,
            "MB",
            f"RSS of the run's process {where}",
            first_rss,
            f"sampled every {r.rss[1][0] - r.rss[0][0] if len(r.rss) > 1 else 0:,} candidates",
            acceptance="11.2",
        ),
        Figure(
            "candidates/min over the whole run",
            Spread.once(n / r.seconds * 60),
            "cand/min",
            f"candidates {EARLY[0]:,}-{EARLY[1]:,}",
            Spread.once(60_000 / early.median if early.median else float("nan")),
            f"{n:,} candidates{stopped}",
        ),
    ]


if __name__ == "__main__":
    if "--quick" in sys.argv[1:]:
        os.environ["RARA_BENCH_QUICK"] = "1"
    print_figures("research run at length (fresh process, fresh home)", run())
