"""`benchmarks/bench_server.py` cannot rot: its percentile is the nearest rank, and the whole
section runs in quick mode against a real `rara serve` (a few thousand events, a few seconds).
Nothing here asserts a rate or a latency."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks import bench_server


def test_the_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert bench_server._percentile(values, 0.99) == 99.0
    assert bench_server._percentile(values, 0.5) == 51.0  # rank round(49.5) = 50 of 0..99
    assert bench_server._percentile([7.0], 0.99) == 7.0


@pytest.mark.slow
def test_the_section_runs_in_quick_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RARA_HOME", str(tmp_path / "caller"))
    monkeypatch.setenv("RARA_BENCH_QUICK", "1")
    figures = bench_server.run()
    assert os.environ["RARA_HOME"] == str(tmp_path / "caller")
    assert not (tmp_path / "caller").exists()  # the servers ran on fresh homes of their own
    (one, ten, ten_all, single, live_one, live_ten, p50, p99, p99_ten, serve_live, serve_p99,
     serve_p99_slow) = figures  # fmt: skip
    assert [f.acceptance for f in figures] == [
        "15.5", "15.5", "", "", "", "", "", "15.5", "15.5", "", "15.5", ""
    ]  # fmt: skip
    for f in (one, ten, ten_all, single, live_one, live_ten, serve_live):
        assert f.value.n == 1 and f.value.min > 0 and f.reference.min > 0
    assert ten_all.value.median >= ten.value.median  # ten clients deliver more than one of them
    for p in (p99, p99_ten, serve_p99, serve_p99_slow):
        assert p.value.min > 0
    assert 0 < p50.value.median <= p99.value.median
    assert serve_p99_slow.reference.median == bench_server.SLOW_POLL_S * 1000
