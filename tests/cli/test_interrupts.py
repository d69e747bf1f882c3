"""A research run that is stopped says how to go on, and two runs never share an id by accident.

SIGINT (Ctrl-C) and SIGTERM (`kill`) end `rara research run` with one JSON document naming the
run and the exact ``--resume`` command, exit 130 / 143; that command then finishes the run. The
same command started twice at once makes two runs, never one run silently "resumed" by the
other; resuming a run that is still running is refused.
"""

from __future__ import annotations

import json
import shlex
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kit.cli import Cli

WAIT_S = 600  # a loaded 2-core box: generous, and never a measurement


@pytest.fixture
def rara(rara_home: Path) -> Iterator[Cli]:
    cli = Cli(rara_home)
    yield cli
    cli.close()


def state(home: Path, sql: str) -> list[tuple[object, ...]]:
    """Rows from the state database, read-only; [] while it does not exist yet."""
    db = home / "rara.db"
    if not db.exists():
        return []
    try:
        conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()
    except sqlite3.OperationalError:  # the tables are being created
        return []


def wait_for_experiments(home: Path, proc: subprocess.Popen[str], n: int = 1) -> None:
    deadline = time.monotonic() + WAIT_S
    while not state(home, f"SELECT 1 FROM experiments LIMIT 1 OFFSET {n - 1}"):
        assert proc.poll() is None, "the run ended before it was interrupted"
        assert time.monotonic() < deadline, "no experiment was recorded"
        time.sleep(0.2)


@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_run_says_how_to_resume_it(
    rara: Cli, rara_home: Path, signum: signal.Signals, exit_code: int
) -> None:
    proc = rara.popen("research", "run", "--iterations", "6", "--seed", "3", "--quiet")
    wait_for_experiments(rara_home, proc)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == exit_code, out + err
    doc = json.loads(out)
    run_id = doc["run_id"]
    assert doc["error"]["code"] == "interrupted" and run_id in doc["error"]["message"]
    assert doc["resume_command"] == f"rara research run --resume {run_id}"
    assert doc["resume_command"] in doc["error"]["suggestion"]
    assert state(rara_home, "SELECT run_id FROM research_runs") == [(run_id,)]

    # the command it printed, as printed, finishes the run
    argv = shlex.split(doc["resume_command"])
    assert argv[0] == "rara"
    done = rara.run(*argv[1:], "--quiet", timeout=WAIT_S)
    assert done.code == 0, done.err
    assert done.out["run_id"] == run_id and done.out["resumed"] is True
    assert done.out["experiments"] == 6


def test_two_identical_runs_at_once_get_two_ids(rara: Cli, rara_home: Path) -> None:
    args = ("research", "run", "--iterations", "2", "--seed", "4", "--quiet")
    procs = [rara.popen(*args), rara.popen(*args)]
    outs = [p.communicate(timeout=WAIT_S) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, out + err
    docs = [json.loads(out) for out, _ in outs]
    assert docs[0]["run_id"] != docs[1]["run_id"]
    assert [d["resumed"] for d in docs] == [False, False]
    assert [d["experiments"] for d in docs] == [2, 2]
    assert len(state(rara_home, "SELECT run_id FROM research_runs")) == 2


def test_resuming_a_run_that_is_running_is_refused(rara: Cli, rara_home: Path) -> None:
    proc = rara.popen("research", "run", "--iterations", "50", "--seed", "5", "--quiet")
    wait_for_experiments(rara_home, proc)
    ((run_id,),) = state(rara_home, "SELECT run_id FROM research_runs")
    second = rara.run("research", "run", "--resume", str(run_id), "--quiet", timeout=WAIT_S)
    assert second.code == 3, second.err
    assert second.out["error"]["code"] == "run_in_progress"
    assert str(run_id) in second.out["error"]["message"]
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 143
