"""`benchmarks/bench_gate.py` on a tiny configuration: the machinery `make bench` runs (synthetic
candles through the real CLI into a fresh home, a built-in research run in the jail sandbox, the
per-seed figures and the summary) works end to end, and leaves the caller's $RARA_HOME alone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks import bench_gate


def test_quick_cases_are_small() -> None:
    smoke = bench_gate.cases(smoke=True)
    full = bench_gate.cases(smoke=False)
    assert sum(len(c.seeds) * c.candidates for c in smoke) <= 20
    noise = next(c for c in full if c.edge is None)
    assert len(noise.seeds) * noise.candidates >= 1_000
    edged = [c for c in full if c.edge]
    assert {c.strength for c in edged} == {0.1, 0.05}
    assert all(len(c.seeds) >= 5 and c.candidates == 200 for c in edged)


@pytest.mark.slow
def test_one_tiny_run_and_its_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RARA_HOME", str(tmp_path / "caller"))
    case = bench_gate.Case("edge 0.1", "momentum", 0.1, (3,), 3, bars=1_500)
    r = bench_gate.run_seed(case, 3)
    assert os.environ["RARA_HOME"] == str(tmp_path / "caller")  # restored
    assert not (tmp_path / "caller").exists()  # the run used its own, fresh home
    assert (r.case, r.seed, r.candidates) == ("edge 0.1", 3, 3)
    assert r.promoted <= r.pre_proof <= r.candidates
    assert "seed   3" in r.line()
    noise = bench_gate.SeedResult("noise", 1, 10, 0, None, 0, None, -1.0, 2.0)
    figures = bench_gate.summarise([noise, r], noise_rate=0.0)
    names = [f.name for f in figures]
    assert "noise: promoted candidates (10 in all)" in names
    assert "edge 0.1: seeds promoted within 3" in names
    assert "edge 0.1: wall time per candidate, over seeds" in names
    assert "edge 0.1: first promotion, over seeds" in names or r.first_promoted is None
