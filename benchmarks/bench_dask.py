"""Candidate evaluation on a local Dask cluster (issue 17) against the host's threads, built-in
proposer on the shipped BTC/USDT 1h candles, every run in a fresh $RARA_HOME:

- warm loop candidates per minute, batch 4: evaluated in this process's threads (the host's jail)
  vs on a `LocalCluster` of 2 single-threaded worker processes (their jails), same seeds; the
  loop's time only (the cluster's start is outside it, as the session's set-up is);
- the per-candidate overhead Dask adds, on Dask minus the same on threads (2 lanes each):
  in batches of `BATCH` jobs sent at once, as the research loop sends them (the batch's wall
  minus its sandbox time spread over the lanes, per candidate), and one job at a time (each
  job's wall minus the sandbox time its worker measured, `JobResult.elapsed_ms`); what is left
  is submission, scheduling, the job's and answer's transfer. Beside them, the round trip of a
  trivial Dask task on the same cluster: the scheduler's own floor on this machine, which a
  batch pays once and one job at a time pays per candidate.

`REPEATS` runs each (1 with --quick); min / median / max over them. On 2 cores the cluster's two
workers share the cores with the host's backtests, so the throughput ratio says little about more
machines; the overhead is the figure that carries over.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.report import Figure, Spread, print_figures, quick, verdict
from benchmarks.research_runs import LoopRun, warm_loop

if TYPE_CHECKING:
    from rara.research.executor import CandidateExecutor, EvaluationJob

REPO = Path(__file__).resolve().parents[1]
ITERATIONS = 40
REPEATS = 3
BATCH = 4
LANES = 2  # the cluster's worker processes; the threads' pool for the overhead reference
JOBS = 30  # sequential jobs, and batches, per overhead sample


def sizes() -> tuple[int, int, int]:
    return (8, 1, 5) if quick() else (ITERATIONS, REPEATS, JOBS)


@dataclass(frozen=True)
class Overheads:
    """One executor's per-candidate overheads (ms): `sequential`, the median of (job wall -
    its worker's sandbox ms) over jobs sent one at a time; `batched`, the median over batches of
    `BATCH` jobs sent at once (as the research loop sends them) of (batch wall - the batch's
    sandbox ms spread over the `LANES` lanes) / `BATCH`; `floor`, the median round trip of a
    trivial Dask task (`abs(-1)`), the scheduler's own on this machine (0 on threads)."""

    sequential: float
    batched: float
    floor: float


def _timed(ex: CandidateExecutor, jobs: list[EvaluationJob]) -> tuple[float, float]:
    """Send `jobs` at once, read every answer: (wall ms, the answers' sandbox ms summed)."""
    from rara.research.executor import JobResult

    t = time.perf_counter()
    futures = ex.submit_batch(jobs)  # as the research loop sends a batch
    answers = [JobResult.model_validate_json(f.result()) for f in futures]
    for job, answer in zip(jobs, answers, strict=True):
        answer.evaluation(job)  # decoded and checked, as the research loop does
    wall = (time.perf_counter() - t) * 1000
    return wall, sum(a.elapsed_ms for a in answers)


def overheads_ms(executor_kind: str, jobs: int) -> Overheads:
    """`Overheads` of one executor: `jobs` sequential SMA jobs, then `jobs` batches, each job
    with parameters of its own (a job's key names its parameters: none is answered twice)."""
    from rara.data.synth import generate
    from rara.research.executor import EvaluationJob, SandboxLimits
    from rara.research.executor_dask import DaskExecutor, start_local
    from rara.research.executor_threads import ThreadExecutor
    from rara.runner.sandbox import open_sandbox

    source = (REPO / "strategies" / "examples" / "sma_crossover" / "strategy.py").read_text()
    candles = generate(8760, "1h", seed=7).candles
    limits = SandboxLimits(backend="subprocess")
    ex: CandidateExecutor
    box = None
    if executor_kind == "thread":
        box = open_sandbox("subprocess")
        ex = ThreadExecutor(box, limits, threads=LANES)  # as many lanes as the cluster
    else:
        ex = start_local(LANES, limits)
    try:
        data = ex.data(candles)

        def job(fast: int, slow: int) -> EvaluationJob:
            return EvaluationJob.of(source, {"fast": fast, "slow": slow}, data, 1, 7000, limits)

        for i in range(2 * LANES):  # warm each lane's jail
            _timed(ex, [job(2 + i, 40)])
        sequential = []
        for i in range(jobs):
            wall, sandbox = _timed(ex, [job(5 + i, 60)])
            sequential.append(wall - sandbox)
        batched = []
        for r in range(jobs):
            wall, sandbox = _timed(ex, [job(5 + i, 61 + r) for i in range(BATCH)])
            batched.append((wall - sandbox / LANES) / BATCH)
        floor = [0.0]
        if isinstance(ex, DaskExecutor):
            floor = []
            for _ in range(jobs):
                t = time.perf_counter()
                ex.client.submit(abs, -1, pure=False).result()
                floor.append((time.perf_counter() - t) * 1000)
        return Overheads(
            statistics.median(sequential), statistics.median(batched), statistics.median(floor)
        )
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
    on_threads = [overheads_ms("thread", jobs) for _ in range(repeats)]
    on_dask = [overheads_ms("dask-local", jobs) for _ in range(repeats)]
    pairs = list(zip(on_dask, on_threads, strict=True))
    added_batched = [d.batched - t.batched for d, t in pairs]
    added_sequential = [d.sequential - t.sequential for d, t in pairs]
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
            f"per-candidate overhead Dask adds, batches of {BATCH} (as the loop sends)",
            Spread.of(added_batched),
            "ms",
            "one job at a time",
            Spread.of(added_sequential),
            "target <= 10 ms: " + verdict(statistics.median(added_batched) <= 10.0),
            acceptance="17.4",
        ),
        Figure(
            "  Dask's round trip of a trivial task",
            Spread.of(d.floor for d in on_dask),
            "ms",
            "the batch overhead on threads",
            Spread.of(t.batched for t in on_threads),
        ),
        Figure(
            "  overhead on Dask, batches (threads' not taken off)",
            Spread.of(d.batched for d in on_dask),
            "ms",
            "one job at a time",
            Spread.of(d.sequential for d in on_dask),
        ),
        Figure(
            "  overhead on threads, one job at a time",
            Spread.of(t.sequential for t in on_threads),
            "ms",
            "batches",
            Spread.of(t.batched for t in on_threads),
        ),
    ]


if __name__ == "__main__":
    if "--quick" in sys.argv[1:]:
        os.environ["RARA_BENCH_QUICK"] = "1"
    print_figures("research candidates on local Dask vs in-process (issue 17)", run())
