"""Writing in batches without weakening the log: appends inside `anchoring_deferred` are anchored
once, when the scope ends (however it ends, from whichever thread or connection of the process
they came), a crash inside the scope leaves a log that verifies and whose truncation below the
last anchor is still caught; and an experiment row commits with its seal and its completion
event, all or nothing.

Real stores on a real state DB, a real child process killed with SIGKILL, tampering with plain
sqlite3.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rara.domain.events import ResearchExperimentCompleted
from rara.domain.market import Instrument, Timeframe
from rara.events import (
    EventDraft,
    EventFilter,
    EventStore,
    anchoring_deferred,
    verify_path,
    wait_for_anchor,
)
from rara.events.anchor import anchor_path
from rara.events.schema import SCHEMA, split_sql
from rara.research.models import experiment_id
from rara.research.publish import RunEvents
from rara.research.record import IterationResult
from rara.research.store import ResearchStore
from rara.validation.trials import TrialStore
from tests.events.payloads import make
from tests.kit.trials import validation_key

HELPER = Path(__file__).with_name("event_procs.py")
INST = Instrument(exchange="binance", symbol="BTC/USDT", timeframe=Timeframe.parse("1h"))


def _anchored_seq(db: Path) -> int | None:
    path = anchor_path(db)
    return int(json.loads(path.read_text())["seq"]) if path.exists() else None


def _append(store: EventStore, i: int) -> None:
    store.append_many([make("probe_event", {"i": i})])


def _trial(store: TrialStore, i: int) -> None:
    key = validation_key(i, 20)
    store.record(key, f"s{i}", np.linspace(-0.01, 0.01, 20), 0.1, {"trades": 2}, "run-a")


def _delete_after(db: Path, seq: int) -> None:
    """Delete the newest events the way an attacker would: triggers dropped, then put back so
    the rest is a valid, shorter chain."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("DROP TRIGGER events_no_delete")
        conn.execute(f"DELETE FROM events WHERE seq > {int(seq)}")
        for stmt in split_sql(SCHEMA):
            if "events_no_delete" in stmt:
                conn.execute(stmt)
        conn.commit()
    finally:
        conn.close()


def test_appends_in_a_scope_are_anchored_once_at_its_end(db_path: Path) -> None:
    with EventStore(db_path) as events, TrialStore(db_path) as trials:
        _append(events, 0)
        assert _anchored_seq(db_path) == 1  # outside a scope: anchored at once, as ever
        with anchoring_deferred(db_path):
            # two threads and two connections of this process, all deferred
            workers = [
                threading.Thread(target=lambda: [_append(events, i) for i in range(1, 6)]),
                threading.Thread(target=lambda: [_trial(trials, i) for i in range(5)]),
            ]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            head = events.last_seq()
            assert head == 1 + 5 + 5  # five events, five trial seals
            assert _anchored_seq(db_path) == 1  # nothing anchored inside the scope
            inside = events.verify()  # a log ahead of its anchor is intact
            assert inside.ok and inside.anchor == "checked" and inside.anchor_seq == 1
        assert _anchored_seq(db_path) == head
        after = verify_path(db_path)
        assert after.ok and after.anchor_seq == after.last_seq == head
        assert after.rows_checked == 5


def test_a_scope_ended_by_an_exception_still_anchors_and_scopes_nest(db_path: Path) -> None:
    with EventStore(db_path) as events:
        with pytest.raises(RuntimeError), anchoring_deferred(db_path):
            _append(events, 0)
            with anchoring_deferred(db_path):
                _append(events, 1)
            assert _anchored_seq(db_path) is None  # the inner end is not the outermost
            _append(events, 2)
            raise RuntimeError("the batch failed")
        assert _anchored_seq(db_path) == 3
        # the scope is gone: the next append anchors at once again
        _append(events, 3)
        assert _anchored_seq(db_path) == 4
    assert verify_path(db_path).ok


def test_a_scope_on_another_db_leaves_this_one_anchored_per_append(
    db_path: Path, tmp_path: Path
) -> None:
    other = tmp_path / "elsewhere" / "rara.db"
    with EventStore(db_path) as events, anchoring_deferred(other):
        _append(events, 0)
        assert _anchored_seq(db_path) == 1


def test_a_background_anchor_is_waited_for_by_the_next_scope_and_at_exit(
    db_path: Path,
) -> None:
    with EventStore(db_path) as events:
        for batch in range(3):
            with anchoring_deferred(db_path, in_background=True):
                _append(events, 2 * batch)
                _append(events, 2 * batch + 1)
            # never ahead of the log, at worst one batch behind it while its write is in flight
            anchored = _anchored_seq(db_path)
            assert anchored is None or 2 * batch <= anchored <= events.last_seq()
        wait_for_anchor(db_path)
        assert _anchored_seq(db_path) == events.last_seq() == 6
    assert verify_path(db_path).ok
    # a process that exits right after its last scope leaves its anchor at its head
    other = db_path.with_name("child.db")
    child = subprocess.run(
        [sys.executable, str(HELPER), "background", str(other), "9"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=240,
        check=True,
    )
    assert json.loads(child.stdout)["last_seq"] == _anchored_seq(other) == 9


def test_a_writer_killed_inside_a_scope_leaves_a_log_that_verifies(db_path: Path) -> None:
    """SIGKILL mid-batch: no scope end ever runs, so the anchor stays where the last write put
    it (behind the log, which verify accepts), and deleting events below it is still caught."""
    before = 3
    proc = subprocess.Popen(
        [sys.executable, str(HELPER), "deferred", str(db_path), str(before)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
        start_new_session=True,
    )
    assert proc.stdout is not None
    seen = 0
    deadline = time.monotonic() + 240  # a hang guard, not a performance threshold
    while seen < 20 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen = int(line)
    os.killpg(proc.pid, signal.SIGKILL)
    _, err = proc.communicate()
    assert seen >= 20, f"the writer stopped early: {err}"
    report = verify_path(db_path)
    assert report.ok, report
    assert report.last_seq >= seen and report.anchor_seq == before
    # deleting events the anchor had covered is a truncation, crash or not
    _delete_after(db_path, before - 1)
    truncated = verify_path(db_path)
    assert not truncated.ok and truncated.problem == "tail_truncated"


def _completion(run_id: str, i: int, event_id: str) -> EventDraft:
    return EventDraft(
        payload=ResearchExperimentCompleted(
            experiment_id=experiment_id(run_id, i),
            iteration=i,
            family="none",
            outcome="rejected",
            failed_check="floor.sharpe",
            fix_rounds=0,
            validation_sharpe=None,
            validation_trades=None,
            cost_usd=0.0,
            insight="rejected: floor.sharpe",
        ),
        source="research.loop",
        correlation_id=run_id,
        event_id=event_id,
    )


def _experiment(run_id: str, i: int) -> IterationResult:
    return IterationResult(
        iteration=i,
        experiment_id=experiment_id(run_id, i),
        outcome="rejected",
        failed_check="floor.sharpe",
    )


def test_an_experiment_row_commits_with_its_completion_event_or_not_at_all(
    db_path: Path,
) -> None:
    with ResearchStore(db_path) as store, EventStore(db_path) as events:
        first = _experiment("run-a", 0)
        store.record(
            first.experiment("run-a", "builtin", INST, 100), None, [_completion("run-a", 0, "ev-0")]
        )
        log = events.query()
        assert [e.type for e in log] == ["research_experiment_completed", "state_row_recorded"]
        # the same row again fails on its key: the event that came with it is not written
        with pytest.raises(sqlite3.IntegrityError):
            store.record(
                first.experiment("run-a", "builtin", INST, 100),
                None,
                [_completion("run-a", 0, "ev-0-again")],
            )
        assert events.last_seq() == 2 and not events.has_event("ev-0-again")
        # a resumed run re-sends an id already in the log: the row is written, the event once
        _append(events, 99)
        events.append_many([_completion("run-a", 1, "ev-1")])
        second = _experiment("run-a", 1)
        store.record(
            second.experiment("run-a", "builtin", INST, 100),
            None,
            [_completion("run-a", 1, "ev-1")],
        )
        completed = events.query(EventFilter(types=["research_experiment_completed"]))
        assert [e.event_id for e in completed] == ["ev-0", "ev-1"]
    report = verify_path(db_path)
    assert report.ok and report.rows_checked == 2


def test_a_run_whose_store_is_on_another_db_still_publishes_its_completion(
    db_path: Path, tmp_path: Path
) -> None:
    """`RunEvents.record_completed` joins the row and its event in one transaction only when they
    share a DB; otherwise the event goes to the log first, as it always did."""
    rows_db = tmp_path / "rows" / "rara.db"
    with EventStore(db_path) as events, ResearchStore(rows_db) as store:
        run = RunEvents(events, "run-b")
        result = _experiment("run-b", 0)
        row = result.experiment("run-b", "builtin", INST, 100)
        run.record_completed(store, row, result, "rejected: floor.sharpe")
        run.record_completed(
            store,
            row.model_copy(update={"iteration": 1, "experiment_id": "x"}),
            result,
            "rejected: floor.sharpe",
        )  # same key: published once
        assert [e.type for e in events.query()] == ["research_experiment_completed"]
        assert store.get(result.experiment_id) is not None and store.get("x") is not None
    with ResearchStore(db_path) as shared, EventStore(db_path) as events:
        run = RunEvents(events, "run-c")
        result = _experiment("run-c", 0)
        run.record_completed(shared, result.experiment("run-c", "builtin", INST, 100), result, "")
        assert [e.type for e in events.query()][-2:] == [
            "research_experiment_completed",
            "state_row_recorded",
        ]
