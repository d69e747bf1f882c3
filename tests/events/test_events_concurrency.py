"""Several processes on one log: WAL lets readers tail; writers serialise on BEGIN IMMEDIATE."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from rara.events import EventStore

HELPER = Path(__file__).with_name("event_procs.py")
pytestmark = pytest.mark.slow


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(HELPER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )


def _go(where: Path, names: list[str], procs: list[subprocess.Popen[str]]) -> None:
    """Wait until every child is set up, then release them all at once."""
    deadline = time.monotonic() + 120  # a hang guard
    while not all((where / f"ready-{n}").exists() for n in names):
        assert all(p.poll() is None for p in procs), "a child died before the barrier"
        assert time.monotonic() < deadline, "children never got ready"
        time.sleep(0.005)
    (where / "go").touch()


def _finish(p: subprocess.Popen[str]) -> dict[str, object]:
    out, err = p.communicate(timeout=300)  # a hang guard, not a timing assertion
    assert "database is locked" not in err
    assert p.returncode == 0, err
    return dict(json.loads(out.strip().splitlines()[-1]))


def test_writer_and_tailing_reader(db_path: Path, tmp_path: Path) -> None:
    EventStore(db_path).close()  # schema and WAL mode exist before the children start
    reader = _spawn("reader", str(db_path), "2000", str(tmp_path))
    writer = _spawn("writer", str(db_path), "2000", "20", "w1", str(tmp_path))
    _go(tmp_path, ["reader", "w1"], [reader, writer])
    wrote = _finish(writer)
    seen = _finish(reader)
    assert wrote == {"written": 2000, "last_seq": 2000}
    assert seen["seen"] == 2000 and seen["first"] == 1 and seen["last"] == 2000
    assert seen["increasing"] and seen["contiguous"]
    with EventStore(db_path) as s:
        report = s.verify()
    assert report.ok and report.events_checked == 2000


def test_two_writers_keep_one_chain(db_path: Path, tmp_path: Path) -> None:
    EventStore(db_path).close()
    writers = [_spawn("writer", str(db_path), "1000", "5", f"w{k}", str(tmp_path)) for k in (1, 2)]
    _go(tmp_path, ["w1", "w2"], writers)
    for w in writers:
        assert _finish(w)["written"] == 1000
    with EventStore(db_path) as s:
        report = s.verify()
        events = s.query()
    assert report.ok and report.events_checked == 2000
    assert [e.seq for e in events] == list(range(1, 2001))
    by_writer: dict[str, list[int]] = defaultdict(list)
    for e in events:
        by_writer[e.source].append(e.payload["i"])
    # each writer's events are all there, in the order it wrote them
    assert by_writer == {"w1": list(range(1000)), "w2": list(range(1000))}
