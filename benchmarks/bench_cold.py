"""Cold start of the CLI: each command in a fresh process with a fresh, empty $RARA_HOME (the
shipped sample candles, nothing cached in the home; numba's on-disk cache and the OS page cache
are whatever earlier runs left, as on a user's machine).

- `rara backtest run strategies/examples/sma_crossover/strategy.py --symbol BTC/USDT --timeframe
  1h`, wall time from start to exit, vs a fresh `python -c "import vectorbt"` (issue 11: <= 1.5x);
  and its CPU time (user + sys, from `os.wait4`) vs that import's;
- `rara --help` CPU time vs `python -c pass` (issue 11: <= 0.3 s CPU).

Each command and its reference run in turn, `REPEATS` times (2 with --quick), so a pair shares the
load of its moment; min / median / max over the repeats.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from benchmarks.report import Figure, ProcessRun, Spread, print_figures, quick, run_process, verdict

REPO = Path(__file__).resolve().parents[1]
REPEATS = 5
BACKTEST_RATIO_TARGET = 1.5
HELP_CPU_TARGET_S = 0.3
STRATEGY = "strategies/examples/sma_crossover/strategy.py"


def rara_command() -> list[str]:
    """The console script a user runs (beside this interpreter), else `python -m rara`."""
    script = Path(sys.executable).with_name("rara")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rara"]


def in_fresh_home(args: list[str]) -> ProcessRun:
    """`args` in a fresh process whose $RARA_HOME is a new, empty directory."""
    with tempfile.TemporaryDirectory(prefix="rara-bench-cold-") as home:
        return run_process(args, env={**os.environ, "RARA_HOME": home}, cwd=REPO)


def run() -> list[Figure]:
    repeats = 2 if quick() else REPEATS
    rara = rara_command()
    backtest = [*rara, "backtest", "run", STRATEGY, "--symbol", "BTC/USDT", "--timeframe", "1h"]
    runs: dict[str, list[ProcessRun]] = {"backtest": [], "vbt": [], "help": [], "pass": []}
    for _ in range(repeats):
        runs["backtest"].append(in_fresh_home(backtest))
        runs["vbt"].append(in_fresh_home([sys.executable, "-c", "import vectorbt"]))
        runs["help"].append(in_fresh_home([*rara, "--help"]))
        runs["pass"].append(in_fresh_home([sys.executable, "-c", "pass"]))
    assert '"metrics"' in runs["backtest"][0].stdout, "rara backtest run printed no metrics"
    assert "Usage" in runs["help"][0].stdout

    def wall(key: str) -> Spread:
        return Spread.of(r.wall_s for r in runs[key])

    def cpu(key: str) -> Spread:
        return Spread.of(r.cpu_s for r in runs[key])

    bt_wall, vbt_wall = wall("backtest"), wall("vbt")
    ratio = bt_wall.median / vbt_wall.median
    help_cpu = cpu("help")
    return [
        Figure(
            "rara backtest run sma_crossover, cold (wall)",
            bt_wall,
            "s",
            'cold python -c "import vectorbt"',
            vbt_wall,
            f"target <= {BACKTEST_RATIO_TARGET:g}x: {verdict(ratio <= BACKTEST_RATIO_TARGET)}",
            acceptance="11.3",
        ),
        Figure(
            "rara backtest run sma_crossover, cold (CPU)",
            cpu("backtest"),
            "s",
            'cold python -c "import vectorbt"',
            cpu("vbt"),
            "user + sys, whole process tree",
        ),
        Figure(
            "rara backtest run, cold: peak RSS",
            Spread.of(r.peak_mb for r in runs["backtest"]),
            "MB",
            'cold python -c "import vectorbt"',
            Spread.of(r.peak_mb for r in runs["vbt"]),
        ),
        Figure(
            "rara --help, cold (CPU)",
            help_cpu,
            "s",
            "cold python -c pass",
            cpu("pass"),
            f"target <= {HELP_CPU_TARGET_S:g} s: {verdict(help_cpu.median <= HELP_CPU_TARGET_S)}",
            acceptance="11.3",
        ),
        Figure("rara --help, cold (wall)", wall("help"), "s", "cold python -c pass", wall("pass")),
    ]


if __name__ == "__main__":
    if "--quick" in sys.argv[1:]:
        os.environ["RARA_BENCH_QUICK"] = "1"
    print_figures("cold start: CLI commands in a fresh process and fresh home", run())
