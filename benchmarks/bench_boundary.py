"""The sandbox boundary as the research loop pays for it: an example strategy (SMA crossover) on
one year of 1h candles (8,760 bars) through the `Sandbox` port.

- jailed subprocess evaluation vs the same call in-process (target: <= 30 ms overhead);
- evaluations per second with both cores busy (two threads, each a jailed child per call;
  target >= 20/s);
- the container backend's per-evaluation time (one fresh container each), when an engine runs.

Min / median / max over the repeats; the overhead is per pair (in-process, then jailed).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from benchmarks.bench_jail import OVERHEAD_TARGET_MS, paired_ms
from benchmarks.bench_sandbox import year_of_hours
from benchmarks.report import Figure, Spread, print_figures, quick, verdict
from rara.domain.market import Candles
from rara.runner.capabilities import docker_engine
from rara.runner.sandbox import ContainerSandbox, EvaluationRequest, InProcessSandbox, JailSandbox

EXAMPLES = Path(__file__).resolve().parents[1] / "strategies" / "examples"


def _candles() -> Candles:
    c = year_of_hours()
    return Candles(c["timestamps"], c["open"], c["high"], c["low"], c["close"], c["volume"])


def _throughput(
    sandbox: JailSandbox, request: EvaluationRequest, seconds: float, workers: int
) -> float:
    done = [0] * workers
    stop = time.monotonic() + seconds

    def work(i: int) -> None:
        while time.monotonic() < stop:
            assert sandbox.evaluate(request).ok
            done[i] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.monotonic() - t0)


def run() -> list[Figure]:
    candles = _candles()
    source = (EXAMPLES / "sma_crossover" / "strategy.py").read_text()
    request = EvaluationRequest(source=source, candles=candles)
    inproc = InProcessSandbox()
    q = quick()
    with JailSandbox(wall_s=30.0) as jail:
        for _ in range(3):  # warm: zygote, page cache, the strategy's first compile
            assert jail.evaluate(request).ok and inproc.evaluate(request).ok
        jail_ms, in_ms = paired_ms(
            lambda: jail.evaluate(request), lambda: inproc.evaluate(request), 5 if q else 21
        )
        seconds, rounds = (1.0, 1) if q else (3.0, 3)
        one = Spread.of(_throughput(jail, request, seconds, 1) for _ in range(rounds))
        two = Spread.of(_throughput(jail, request, seconds, 2) for _ in range(rounds))
    jailed, in_process = Spread.of(jail_ms), Spread.of(in_ms)
    overhead = Spread.of(j - i for j, i in zip(jail_ms, in_ms, strict=True))
    figures = [
        Figure(
            "jailed evaluation, sma_crossover 1y 1h",
            jailed,
            "ms",
            "same call in-process",
            in_process,
        ),
        Figure(
            "jailed evaluation overhead over in-process",
            overhead,
            "ms",
            "same call in-process",
            in_process,
            f"target <= {OVERHEAD_TARGET_MS:g} ms: "
            + verdict(overhead.median <= OVERHEAD_TARGET_MS),
            acceptance="11.4",
        ),
        Figure(
            "jailed evaluations/s, 2 threads",
            two,
            "eval/s",
            "1 thread",
            one,
            f"target >= 20/s: {verdict(two.median >= 20)}",
        ),
    ]
    if docker_engine().available:
        box = ContainerSandbox(wall_s=60.0)
        times = []
        for _ in range(3 if q else 7):
            t = time.perf_counter()
            assert box.evaluate(request).ok
            times.append((time.perf_counter() - t) * 1000)
        figures.append(
            Figure(
                "container evaluation, sma_crossover 1y 1h",
                Spread.of(times),
                "ms",
                "jailed subprocess",
                jailed,
                "fresh container per evaluation",
            )
        )
    else:
        print("   container backend: no Docker engine reachable; `make docker-sandbox` starts one")
    return figures


if __name__ == "__main__":
    if "--quick" in sys.argv[1:]:
        os.environ["RARA_BENCH_QUICK"] = "1"
    print_figures("sandbox boundary (8,760 1h bars)", run())
