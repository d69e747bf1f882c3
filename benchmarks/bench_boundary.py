"""The sandbox boundary as the research loop pays for it: an example strategy (SMA crossover) on
one year of 1h candles (8,760 bars) through the `Sandbox` port.

- jailed subprocess evaluation vs the same call in-process (target: <= 30 ms overhead);
- evaluations per second with both cores busy (two threads, each a jailed child per call;
  target >= 20/s);
- the container backend's per-evaluation time (one fresh container each), when an engine runs.
"""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

from benchmarks.bench_sandbox import year_of_hours
from benchmarks.report import Figure, median_ms, print_figures
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
    with JailSandbox(wall_s=30.0) as jail:
        in_ms = median_ms(lambda: inproc.evaluate(request), repeat=21)
        jail_ms = median_ms(lambda: jail.evaluate(request), repeat=21, warmup=3)
        one = _throughput(jail, request, 3.0, 1)
        two = _throughput(jail, request, 3.0, 2)
    figures = [
        Figure(
            "jailed evaluation, sma_crossover 1y 1h",
            jail_ms,
            "ms",
            "same call in-process",
            in_ms,
            f"overhead {jail_ms - in_ms:.1f} ms (target <= 30 ms)",
        ),
        Figure("jailed evaluations/s, 2 threads", two, "eval/s", "1 thread", one, "target >= 20/s"),
    ]
    if docker_engine().available:
        box = ContainerSandbox(wall_s=60.0)
        times = []
        for _ in range(7):
            t = time.perf_counter()
            assert box.evaluate(request).ok
            times.append((time.perf_counter() - t) * 1000)
        figures.append(
            Figure(
                "container evaluation, sma_crossover 1y 1h",
                statistics.median(times),
                "ms",
                "jailed subprocess",
                jail_ms,
                "fresh container per evaluation",
            )
        )
    else:
        print("container backend: no Docker engine reachable; `make docker-sandbox` starts one")
    return figures


if __name__ == "__main__":
    print_figures("sandbox boundary (8,760 1h bars)", run())
