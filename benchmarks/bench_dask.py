"""Candidate evaluation on a local Dask cluster (issue 17) against the host's threads, built-in
proposer on the shipped BTC/USDT 1h candles, every run in a fresh $RARA_HOME:

- warm loop candidates per minute, batch 4: evaluated in this process's threads (the host's jail)
  vs on a `LocalCluster` of 2 single-threaded worker processes (their jails), same seeds; the
  loop's time only (the cluster's start is outside it, as the session's set-up is);
- the per-candidate overhead Dask adds: one job at a time, each job's wall time minus the sandbox
  time its worker measured (`JobResult.elapsed_ms`), on Dask minus the same on threads (what is
  left is submission, scheduling, the job's and answer's transfer), beside the round trip of a
  trivial Dask task on the same cluster: the part of it that is Dask's own on this machine.

`REPEATS` runs each (1 with --quick); min / median / max over them. On 2 cores the cluster's two
workers share the cores with the host's backtests, so the throughput ratio says little about more
machines; the overhead is the figure that carries over.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

from benchmarks.report import Figure, Spread, print_figures, quick
from benchmarks.research_runs import LoopRun, warm_loop

REPO = Path(__file__).resolve().parents[1]
ITERATIONS = 40
REPEATS = 3
BATCH = 4
JOBS = 30  # sequential jobs per overhead sample


def sizes() -> tuple[int, int, int]:
    return (8, 1, 5) if quick() else (ITERATIONS, REPEATS, JOBS)


def job_overheads_ms(executor_kind: str, jobs: int) -> tuple[float, float]:
    """Median of (wall - worker sandbox time) over `jobs` sequential SMA jobs; and, on Dask, the
    median round trip of a trivial task (`abs(-1)`): the scheduler's own floor on this machine
    (0 for threads)."""
    from rara.data.synth import generate
    from rara.research.executor import CandidateExecutor, EvaluationJob, JobResult, SandboxLimits
    from rara.research.executor_threads import ThreadExecutor
    from rara.runner.sandbox import open_sandbox

    source = (REPO / "strategies" / "examples" / "sma_crossover" / "strategy.py").read_text()
    candles = generate(8760, "1h", seed=7).candles
    limits = SandboxLimits(backend="subprocess")
    ex: CandidateExecutor
    from rara.research.executor_dask import DaskExecutor, start_local

    if executor_kind == "thread":
        box = open_sandbox("subprocess")
        ex = ThreadExecutor(box, limits)
    else:
        box = None
        ex = start_local(2, limits)
    try:
        data = ex.data(candles)
        overheads = []
        for i in range(jobs + 2):  # the first two warm each worker's jail
            job = EvaluationJob.of(source, {"fast": 5 + i, "slow": 60}, data, 1, 7000, limits)
            t = time.perf_counter()
            answer = JobResult.model_validate_json(ex.submit(job).result())
            answer.evaluation(job)
            wall = (time.perf_counter() - t) * 1000
            if i >= 2:
                overheads.append(wall - answer.elapsed_ms)
        floor = [0.0]
        if isinstance(ex, DaskExecutor):
            floor = []
            for _ in range(jobs):
                t = time.perf_counter()
                ex.client.submit(abs, -1, pure=False).result()
                floor.append((time.perf_counter() - t) * 1000)
        return statistics.median(overheads), statistics.median(floor)
    finally:
        ex.close()
        if box is not None:
            box.close()


def run() -> list[Figure]:
    from rara.research.run_setup import ExecutorChoice

    iterations, repeats, jobs = sizes()
    warm_loop(BATCH, seed=99, iterations=4)  # warm: vectorbt import, numba cache, page cache
    threads: list[LoopRun] = []
    dask: list[LoopRun] = []
    for seed in range(1, repeats + 1):  # interleaved, so both see the same spells of load
        threads.append(warm_loop(BATCH, seed=seed, iterations=iterations))
        dask.append(
            warm_loop(
                BATCH,
                seed=seed,
                iterations=iterations,
                executor=ExecutorChoice("dask-local", workers=2),
            )
        )
    thread_overhead = [job_overheads_ms("thread", jobs)[0] for _ in range(repeats)]
    on_dask = [job_overheads_ms("dask-local", jobs) for _ in range(repeats)]
    added = [d - t for (d, _), t in zip(on_dask, thread_overhead, strict=True)]
    return [
        Figure(
            f"warm loop candidates/min, local Dask 2 workers, batch {BATCH} ({iterations})",
            Spread.of(r.per_minute for r in dask),
            "cand/min",
            "in-process threads, same batch",
            Spread.of(r.per_minute for r in threads),
            "2 cores shared with the host's gate",
            acceptance="17.4",
        ),
        Figure(
            "  per candidate: sandbox step (wall, batch at once)",
            Spread.of(r.steps.get("sandbox", 0.0) / r.iterations for r in dask),
            "ms",
            "in-process threads",
            Spread.of(r.steps.get("sandbox", 0.0) / r.iterations for r in threads),
        ),
        Figure(
            "per-candidate overhead Dask adds (job wall - worker sandbox ms)",
            Spread.of(added),
            "ms",
            "Dask's round trip of a trivial task",
            Spread.of(floor for _, floor in on_dask),
            "target <= 10 ms",
            acceptance="17.4",
        ),
        Figure(
            "  the same overhead on threads (encode, decode, hand-off)",
            Spread.of(thread_overhead),
            "ms",
            "on Dask, before the threads' is taken off",
            Spread.of(d for d, _ in on_dask),
        ),
    ]


if __name__ == "__main__":
    if "--quick" in sys.argv[1:]:
        os.environ["RARA_BENCH_QUICK"] = "1"
    print_figures("research candidates on local Dask vs in-process (issue 17)", run())
