"""`benchmarks/bench_daemon.py` cannot rot: the home it writes puts 10 distinct strategies into
the lifecycle with a market to trade, its /proc readings see a process tree's CPU time and
memory, its trend is a least-squares slope, and the whole section runs in quick mode (three
real `rara run` daemons, a few seconds each). Nothing here asserts a duration."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import bench_daemon
from benchmarks.bench_daemon import MemoryTrend, slope_per_hour
from rara.daemon.trading import plan_of
from rara.events import open_event_store
from rara.feedback.lifecycle import Lifecycle
from rara.home import Home


def test_the_home_holds_ten_distinct_paper_candidates_with_a_market(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RARA_HOME", str(tmp_path / "caller"))
    home = tmp_path / "bench"
    ids = bench_daemon.write_paper_home(home, 10, research=False)
    assert len(set(ids)) == 10
    h = Home.from_env()
    assert h.root == home
    with open_event_store(h.state_db) as store:
        records = Lifecycle(store).strategies("paper_candidate")
    assert [r.strategy_id for r in records] == ids
    plans = [plan_of(h, r, "paper") for r in records]
    assert {(p.exchange, p.symbol, p.timeframe) for p in plans} == {("binance", "BTC/USDT", "1h")}
    assert len({p.directory for p in plans}) == 10
    assert "max_paper_strategies = 10" in (home / "config.toml").read_text()


def test_tree_readings_see_a_child_in_a_session_of_its_own() -> None:
    # the child leaves the parent's process group, as the sandbox's jailed workers do
    burn = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],\n"
        "                         start_new_session=True)\n"
        "t = time.process_time()\n"
        "while time.process_time() - t < 0.3: pass\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    p = subprocess.Popen(
        [sys.executable, "-c", burn], stdout=subprocess.PIPE, start_new_session=True, text=True
    )
    child = 0
    try:
        assert p.stdout is not None
        child = int(p.stdout.readline())
        assert os.getpgid(child) != p.pid
        assert sorted(bench_daemon.tree_members(p.pid)) == sorted([p.pid, child])
        assert bench_daemon.tree_cpu_s(p.pid) >= 0.3
        total, leader, members = bench_daemon.tree_memory_mb(p.pid)
        # the tree's PSS is the parent's PSS and the child's (the parent's RSS may be more:
        # pages shared with the child count in full there, halved in PSS)
        assert members == 2 and leader > 0 and total > bench_daemon.pss_mb(p.pid) > 0
    finally:
        for pid in (child, p.pid):
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        p.wait(60)
        if p.stdout is not None:
            p.stdout.close()


def test_the_trend_is_a_least_squares_slope_per_hour() -> None:
    line = [(t, 100.0 + t / 60) for t in range(0, 600, 5)]  # 1 MB a minute
    assert abs(slope_per_hour(line) - 60.0) < 1e-9
    flat = MemoryTrend([(t, 100.0 + (t // 5) % 2) for t in range(0, 600, 5)], [], 1)
    assert abs(flat.settled_slope) < 5.0 and flat.judged() == "no growth trend"
    assert flat.quarter_ratio == pytest.approx(1.0, abs=0.01)
    rising = MemoryTrend(line, [], 1)
    assert rising.growth and rising.quarter_ratio > 1.05
    assert all(abs(q - 60.0) < 1e-6 for q in rising.quarter_slopes())


def test_the_trend_is_judged_on_the_resting_level() -> None:
    """Each 10 s block's lowest sample: spikes above a flat floor are no trend, even when they
    come more often late in the soak (which tilts the medians); a floor that rises is growth
    however the spikes fall; a floor that scatters as much as it rises is inconclusive."""
    rng = random.Random(7)
    times = [i * 0.5 for i in range(1200)]  # 10 minutes, every 0.5 s

    def spike(t: float) -> float:  # a research run's arrays: more often as the soak goes on
        return 60.0 if rng.random() < 0.1 + 0.5 * t / 600 else 0.0

    busier = MemoryTrend([(t, 500.0 + spike(t)) for t in times], [], 1)
    medians = busier.block_medians()
    assert slope_per_hour(medians) > 100  # the old statistic reads the busier end as growth
    assert busier.settled_slope == 0.0 and busier.judged() == "no growth trend"
    leak = MemoryTrend([(t, 500.0 + t / 60 + spike(t)) for t in times], [], 1)  # 60 MB/hour
    assert leak.judged() == "growth" and leak.settled_slope == pytest.approx(60.0, abs=1.0)
    shaky = MemoryTrend([(t, 500.0 + t / 60 * 0.4 + rng.uniform(-20, 20)) for t in times], [], 1)
    assert shaky.judged() == "inconclusive"  # 24 MB/hour under 40 MB of scatter
    few = MemoryTrend([(t, 100.0 + t) for t in range(0, 30, 2)], [], 1)  # 3 blocks: the samples
    assert few.settled_slope == pytest.approx(3600.0)


@pytest.mark.slow
def test_the_section_runs_in_quick_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RARA_HOME", str(tmp_path / "caller"))
    monkeypatch.setenv("RARA_BENCH_QUICK", "1")
    figures = bench_daemon.run()
    assert os.environ["RARA_HOME"] == str(tmp_path / "caller")
    assert not (tmp_path / "caller").exists()  # every daemon ran on a fresh home of its own
    idle, tree, tree_slope, daemon, daemon_slope = figures
    assert idle.acceptance == "14.6" and idle.value.n == 2 and idle.reference.n == 2
    assert idle.value.min >= 0 and idle.reference.min >= 0
    for series, slope in ((tree, tree_slope), (daemon, daemon_slope)):
        assert series.value.n >= 2 and series.value.min > 0 and series.reference.n >= 1
        assert slope.value.n == 1 and slope.acceptance == "14.6"
        assert "too short to judge" in slope.target
    assert daemon.value.median > 0
