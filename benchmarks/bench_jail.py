"""Cost of the OS boundary: one jailed child per evaluation, forked from a warm zygote.

- round trip of a trivial entry (fork, all confinement layers, request/response frames, exit
  and reap) vs calling the same function in-process: the project target is <= 30 ms overhead;
- the same with an 8 MiB request and response (one year of 1m closes is ~4 MiB) vs a memcpy;
- evaluations per second with two concurrent workers (target >= 20/s with both cores busy) vs one.

Every figure is min / median / max over its repeats; the overhead is per pair (an in-process
call, then the jailed one).

    python -m benchmarks.bench_jail [--quick]
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from benchmarks.report import Figure, Spread, print_figures, quick, spread_ms, verdict
from rara.runner.jail.runner import JailedRunner, Limits
from rara.runner.jail.zygote import echo

ENTRY = "rara.runner.jail.zygote:echo"
OVERHEAD_TARGET_MS = 30.0
RATE_TARGET = 20.0


def _check(runner: JailedRunner, payload: bytes) -> None:
    r = runner.run(ENTRY, payload)
    if not (r.ok and r.response == payload):
        raise RuntimeError(f"jailed echo failed: {r.error}: {r.message}")


def _rate(runner: JailedRunner, workers: int, n: int) -> float:
    payload = b"x" * 64
    with ThreadPoolExecutor(workers) as pool:
        t0 = time.perf_counter()
        for r in pool.map(lambda _: runner.run(ENTRY, payload), range(n)):
            if not r.ok:
                raise RuntimeError(f"jailed echo failed: {r.error}: {r.message}")
        return n / (time.perf_counter() - t0)


def paired_ms(
    jailed: Callable[[], object], inproc: Callable[[], object], repeat: int
) -> tuple[list[float], list[float]]:
    """The in-process call then the jailed one, `repeat` times: per-pair overheads share the
    machine's load of that moment."""
    jail_ms, in_ms = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        inproc()
        t1 = time.perf_counter()
        jailed()
        t2 = time.perf_counter()
        in_ms.append((t1 - t) * 1000)
        jail_ms.append((t2 - t1) * 1000)
    return jail_ms, in_ms


def run() -> list[Figure]:
    small = b"ping"
    big = os.urandom(8 << 20)
    q = quick()
    with JailedRunner(limits=Limits(wall_s=30.0)) as runner:
        layers = runner.layers()
        _check(runner, big)
        for _ in range(5):  # warm: zygote, page cache
            _check(runner, small)
        jail, inproc = paired_ms(lambda: _check(runner, small), lambda: echo(small), 9 if q else 41)
        jail_big = spread_ms(lambda: _check(runner, big), repeat=3 if q else 15)
        copy = spread_ms(lambda: bytes(bytearray(big)), repeat=3 if q else 15)
        rounds = 1 if q else 3
        one = Spread.of(_rate(runner, 1, 20 if q else 60) for _ in range(rounds))
        two = Spread.of(_rate(runner, 2, 40 if q else 120) for _ in range(rounds))
    missing = [lay.name for lay in layers if not lay.active]
    overhead = Spread.of(j - i for j, i in zip(jail, inproc, strict=True))
    met = verdict(overhead.median <= OVERHEAD_TARGET_MS)
    print(
        f"   layers active: {len(layers) - len(missing)}/{len(layers)}"
        + (f"; missing: {', '.join(missing)}" if missing else "")
    )
    return [
        Figure("jailed trivial entry, round trip", Spread.of(jail), "ms", "in-process call",
               Spread.of(inproc), "fork, confine, frames, exit, reap"),
        Figure("jailed trivial entry, overhead over in-process", overhead, "ms", "in-process call",
               Spread.of(inproc), f"target <= {OVERHEAD_TARGET_MS:g} ms: {met}"),
        Figure("jailed echo of 8 MiB, round trip", jail_big, "ms", "in-process copy of 8 MiB",
               copy, "pipes both ways"),
        Figure("jailed evaluations, 2 workers", two, "evals/s", "1 worker", one,
               f"target >= {RATE_TARGET:g}/s: {verdict(two.median >= RATE_TARGET)}"),
    ]  # fmt: skip


if __name__ == "__main__":
    if "--quick" in sys.argv[1:]:
        os.environ["RARA_BENCH_QUICK"] = "1"
    print_figures("jailed subprocess (zygote fork per evaluation)", run())
