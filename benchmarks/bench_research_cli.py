"""`rara research run --iterations 1000 --quiet` end to end: a fresh process with a fresh, empty
$RARA_HOME each time, the built-in proposer on the shipped BTC/USDT 1h sample (what `make run`
researches; the sample ships inside the package, so an empty home finds it). What a user waits
for: interpreter start, imports, catalog, sandbox start, every candidate, the summary and the best
candidate's tear sheet, to the process's exit.

- candidates per minute including all of that (issue 11: >= 900), against the same runs' loop
  alone (the loop's own step timings from the run's JSON summary): the ratio is what start-up and
  the summary cost;
- the fixed cost per run (wall time minus the loop), CPU time and peak RSS.

`RARA_BENCH_CLI_ITERATIONS` overrides the size (default 1,000; 100 with --quick); `REPEATS` runs
(1 with --quick), all with seed 0, so each repeat does the same work: their run hashes must agree.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass

from benchmarks.bench_cold import REPO, rara_command
from benchmarks.report import Figure, Spread, env_int, print_figures, quick, run_process, verdict

ITERATIONS = 1_000
REPEATS = 3
TARGET_PER_MIN = 900.0


@dataclass(frozen=True)
class CliRun:
    wall_s: float
    cpu_s: float
    peak_mb: float
    experiments: int
    loop_s: float  # the loop's steps summed, from the run's summary
    run_hash: str

    @property
    def per_minute(self) -> float:
        return self.experiments / self.wall_s * 60

    @property
    def loop_per_minute(self) -> float:
        return self.experiments / self.loop_s * 60


def sizes() -> tuple[int, int]:
    if quick():
        return env_int("RARA_BENCH_CLI_ITERATIONS", 100), 1
    return env_int("RARA_BENCH_CLI_ITERATIONS", ITERATIONS), REPEATS


def research_run(iterations: int) -> CliRun:
    """One `rara research run` in a fresh process and a fresh home."""
    args = [*rara_command(), "research", "run", "--iterations", str(iterations), "--quiet"]
    with tempfile.TemporaryDirectory(prefix="rara-bench-cli-") as home:
        p = run_process(args, env={**os.environ, "RARA_HOME": home}, cwd=REPO)
    summary = json.loads(p.stdout)
    assert summary["proposer"] == "builtin" and summary["instrument"].endswith("BTC/USDT:1h")
    return CliRun(
        wall_s=p.wall_s,
        cpu_s=p.cpu_s,
        peak_mb=p.peak_mb,
        experiments=int(summary["experiments"]),
        loop_s=sum(summary["timings_ms"].values()) / 1000,
        run_hash=str(summary["run_hash"]),
    )


def run() -> list[Figure]:
    iterations, repeats = sizes()
    runs = [research_run(iterations) for _ in range(repeats)]
    assert all(r.experiments == iterations for r in runs)
    hashes = {r.run_hash for r in runs}
    print(f"   run hash{'es differ' if len(hashes) > 1 else ''}: {', '.join(sorted(hashes))}")
    per_min = Spread.of(r.per_minute for r in runs)
    wall = Spread.of(r.wall_s for r in runs)
    return [
        Figure(
            f"end to end candidates/min ({iterations:,} candidates)",
            per_min,
            "cand/min",
            "same runs, loop alone",
            Spread.of(r.loop_per_minute for r in runs),
            f"target >= {TARGET_PER_MIN:g}: {verdict(per_min.median >= TARGET_PER_MIN)}",
            acceptance="11.1",
        ),
        Figure(
            "end to end: fixed cost (wall - loop)",
            Spread.of(r.wall_s - r.loop_s for r in runs),
            "s",
            "wall time of the run",
            wall,
            "start-up, summary, tear sheet",
        ),
        Figure(
            "end to end: CPU time (user + sys)",
            Spread.of(r.cpu_s for r in runs),
            "s",
            "wall time of the run",
            wall,
            "process tree, sandbox children included",
        ),
        Figure(
            "end to end: peak RSS of the rara process",
            Spread.of(r.peak_mb for r in runs),
            "MB",
            "candidates",
            Spread.once(iterations),
            "VmHWM, sandbox children not included",
        ),
    ]


if __name__ == "__main__":
    if "--quick" in sys.argv[1:]:
        os.environ["RARA_BENCH_QUICK"] = "1"
    print_figures("research run end to end: rara research run, fresh process and home", run())
