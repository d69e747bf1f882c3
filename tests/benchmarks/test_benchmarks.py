"""`make bench` cannot rot unseen: the cheap sections run in their quick mode through
`python -m benchmarks`' own entry, every figure printed with its spread; the research benchmarks'
pieces (the one-at-a-time loop really runs one at a time, the end-to-end CLI run, the long run's
per-candidate blocks and memory samples) run at a tiny size. Nothing here asserts a duration."""

from __future__ import annotations

import inspect
import os
import sys
from pathlib import Path

import pytest

from benchmarks import __main__ as bench_main
from benchmarks import bench_long_run, bench_research_cli
from benchmarks.report import Figure, Spread, run_process
from benchmarks.research_runs import LOOP_ARGUMENTS, warm_loop
from rara.research.loop import ResearchLoop

CHEAP = (
    "market data catalog",
    "event log",
    "research storage",
    "strategy runtime",
    "jail primitive",
    "sandbox boundary",
    "built-in proposer",
    "research loop warm",
    "paper engine",
    "live orders",
)


def test_a_figure_prints_min_median_max_and_the_ratio_of_medians() -> None:
    f = Figure("x", Spread.of([3.0, 1.0, 2.0]), "ms", "ref", Spread.of([4.0, 4.0]), "t")
    assert (f.value.min, f.value.median, f.value.max, f.value.n) == (1.0, 2.0, 3.0, 3)
    assert f.ratio == 0.5
    line = f.line()
    assert "[1.00 .. 3.00]" in line and "[4.00 .. 4.00]" in line and "x   0.50" in line
    assert "(once)" in Figure("y", Spread.once(1.0), "s", "r", Spread.once(2.0)).line()


def test_run_process_reports_the_childs_own_cpu_time() -> None:
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"
    idle = run_process([sys.executable, "-c", "pass"])
    busy = run_process([sys.executable, "-c", burn])
    assert busy.cpu_s >= 0.3 > idle.cpu_s
    assert busy.wall_s >= busy.cpu_s * 0.9 and busy.peak_mb > 0


def test_the_loop_benchmark_passes_every_argument_of_the_loop() -> None:
    params = set(inspect.signature(ResearchLoop.__init__).parameters) - {"self"}
    assert params == LOOP_ARGUMENTS


def test_long_run_blocks_and_memory_growth() -> None:
    finished = [0.1 * (k + 1) for k in range(50)]  # 100 ms per candidate
    blocks = bench_long_run.block_ms(finished, 1, 50)
    assert len(blocks) == 4 and all(abs(b - 100.0) < 1e-9 for b in blocks)
    assert bench_long_run.growth_per_1000([(500, 100.0), (1000, 105.0), (1500, 105.0)]) == [
        10.0,
        0.0,
    ]


@pytest.mark.slow
def test_cheap_sections_run_in_quick_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RARA_HOME", str(tmp_path / "caller"))
    monkeypatch.setenv("RARA_BENCH_QUICK", "1")
    assert bench_main.main(["--quick", *CHEAP]) == 0
    out = capsys.readouterr().out
    for title, _ in bench_main.sections():
        if any(word in title for word in CHEAP):
            assert f"== {title}" in out
    assert out.count("load average at start") == len(CHEAP)
    assert "[" in out and " .. " in out  # spreads printed
    assert not (tmp_path / "caller").exists()  # every run used a fresh home
    assert os.environ["RARA_HOME"] == str(tmp_path / "caller")


@pytest.mark.slow
def test_one_at_a_time_is_one_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RARA_HOME", str(tmp_path / "caller"))
    batches: list[int] = []
    single = warm_loop(1, seed=3, iterations=3, on_progress=lambda p: batches.append(p.tried))
    assert single.batch == 1 and single.counts["tried"] == 3 and batches == [1, 2, 3]
    assert not (tmp_path / "caller").exists()


@pytest.mark.slow
def test_end_to_end_cli_run_and_long_run_at_a_tiny_size() -> None:
    cli = bench_research_cli.research_run(3)
    assert cli.experiments == 3 and 0 < cli.loop_s < cli.wall_s
    r = bench_long_run.long_run(12, budget_s=600)  # memory sampled every 12 // 6 candidates
    assert len(r.finished_at) == 12 and r.stop == "iterations"
    assert r.finished_at == sorted(r.finished_at)
    assert [n for n, _ in r.rss] == [2, 4, 6, 8, 10, 12]
