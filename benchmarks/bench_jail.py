"""Cost of the OS boundary: one jailed child per evaluation, forked from a warm zygote.

- round trip of a trivial entry (fork, all confinement layers, request/response frames, exit
  and reap) vs calling the same function in-process: the project target is <= 30 ms overhead;
- the same with an 8 MiB request and response (one year of 1m closes is ~4 MiB) vs a memcpy;
- evaluations per second with two concurrent workers (target >= 20/s with both cores busy) vs one.

    python benchmarks/bench_jail.py
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

from benchmarks.report import Figure, median_ms, print_figures
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


def run() -> list[Figure]:
    small = b"ping"
    big = os.urandom(8 << 20)
    with JailedRunner(limits=Limits(wall_s=30.0)) as runner:
        layers = runner.layers()
        _check(runner, big)
        jail_ms = median_ms(lambda: _check(runner, small), repeat=41, warmup=5)
        inproc_ms = median_ms(lambda: echo(small), repeat=41)
        jail_big_ms = median_ms(lambda: _check(runner, big), repeat=15)
        copy_ms = median_ms(lambda: bytes(bytearray(big)), repeat=15)
        one = _rate(runner, 1, 60)
        two = _rate(runner, 2, 120)
    missing = [lay.name for lay in layers if not lay.active]
    overhead = jail_ms - inproc_ms
    print(
        f"layers active: {len(layers) - len(missing)}/{len(layers)}"
        + (f"; missing: {', '.join(missing)}" if missing else "")
    )
    return [
        Figure("jailed trivial entry, round trip", jail_ms, "ms", "in-process call", inproc_ms,
               f"overhead {overhead:.1f} ms, target <= {OVERHEAD_TARGET_MS:g}: "
               + ("met" if overhead <= OVERHEAD_TARGET_MS else "NOT met")),
        Figure("jailed echo of 8 MiB, round trip", jail_big_ms, "ms", "in-process copy of 8 MiB",
               copy_ms, "pipes both ways"),
        Figure("jailed evaluations, 2 workers", two, "evals/s", "1 worker", one,
               f"target >= {RATE_TARGET:g}/s: " + ("met" if two >= RATE_TARGET else "NOT met")),
    ]  # fmt: skip


if __name__ == "__main__":
    print_figures("jailed subprocess (zygote fork per evaluation)", run())
