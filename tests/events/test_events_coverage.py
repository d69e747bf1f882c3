"""What users read is covered by `rara events verify`: experiments and trials are sealed in the log
as they are written, so an edit made with plain SQLite is reported with its table, id and column;
and the chain head is anchored in ``rara.db.anchor``, so deleting the newest events is caught.

Every test writes through the real stores into a real state DB and tampers with plain sqlite3,
the way someone with the file would.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rara.domain.market import Instrument, Timeframe
from rara.events import EventStore, verify_path
from rara.events.anchor import anchor_path
from rara.events.schema import SCHEMA, split_sql
from rara.research.models import experiment_id
from rara.research.record import IterationResult
from rara.research.store import ResearchStore
from rara.validation.trials import TrialStore
from tests.events.payloads import make
from tests.kit.cli import CliResult
from tests.kit.paths import REPO
from tests.kit.trials import validation_key

INST = Instrument(exchange="binance", symbol="BTC/USDT", timeframe=Timeframe.parse("1h"))


def _experiments(db: Path, n: int) -> list[str]:
    ids = []
    with ResearchStore(db) as store:
        for i in range(n):
            result = IterationResult(
                iteration=i,
                experiment_id=experiment_id("run-a", i),
                outcome="rejected",
                failed_check="floor.sharpe",
            )
            store.record(result.experiment("run-a", "builtin", INST, 100), None)
            ids.append(result.experiment_id)
    return ids


def _trials(db: Path, n: int) -> list[str]:
    ids = []
    with TrialStore(db) as store:
        for i in range(n):
            key = validation_key(i, 50)
            returns = np.linspace(-0.01, 0.01, 50) * (i + 1)
            trial, new = store.record(key, f"s{i}", returns, 0.05 * i, {"trades": 3}, "run-a")
            assert new
            ids.append(trial.trial_id)
    return ids


def _append(store: EventStore, i: int) -> None:
    store.append_many([make("probe_event", {"i": i})])


def _sql(db: Path, *statements: str) -> None:
    """Plain SQLite, as anyone with the file can: triggers dropped, rows edited."""
    conn = sqlite3.connect(db)
    try:
        for stmt in statements:
            conn.execute(stmt)
        conn.commit()
    finally:
        conn.close()


def test_an_untouched_home_verifies_every_row(db_path: Path, cli: Callable[..., CliResult]) -> None:
    experiments, trials = _experiments(db_path, 3), _trials(db_path, 4)
    report = verify_path(db_path)
    assert report.ok, report
    assert report.rows_checked == len(experiments) + len(trials)
    assert report.anchor == "checked" and report.anchor_seq == report.last_seq == 7
    r = cli("events", "verify")
    assert r.code == 0, r.stdout + r.stderr
    assert r.json["rows_checked"] == 7


def test_an_edited_experiment_outcome_is_named(
    db_path: Path, cli: Callable[..., CliResult]
) -> None:
    ids = _experiments(db_path, 3)
    _sql(
        db_path,
        "DROP TRIGGER experiments_no_update",
        f"UPDATE experiments SET outcome = 'paper_candidate' WHERE experiment_id = '{ids[1]}'",
    )
    r = cli("events", "verify")
    assert r.code == 3, r.stdout + r.stderr
    assert r.error["code"] == "state_rows_altered"
    assert f"experiments row {ids[1]} changed (outcome)" in r.error["message"]
    problems = r.json["report"]["row_problems"]
    assert [(p["table"], p["row_id"], p["columns"]) for p in problems] == [
        ("experiments", ids[1], ["outcome"])
    ]


def test_an_edited_trial_sharpe_is_named(db_path: Path, cli: Callable[..., CliResult]) -> None:
    ids = _trials(db_path, 4)
    _sql(
        db_path,
        "DROP TRIGGER trials_no_update",
        f"UPDATE trials SET sharpe = 3.5, metrics = '{{}}' WHERE trial_id = '{ids[2]}'",
    )
    r = cli("events", "verify")
    assert r.code == 3, r.stdout + r.stderr
    problems = r.json["report"]["row_problems"]
    assert [(p["table"], p["row_id"], p["problem"], p["columns"]) for p in problems] == [
        ("trials", ids[2], "row_changed", ["metrics", "sharpe"])
    ]


def test_deleted_inserted_and_resealed_rows_are_reported(db_path: Path) -> None:
    ids = _trials(db_path, 3)
    _sql(
        db_path,
        "DROP TRIGGER trials_no_delete",
        f"DELETE FROM trials WHERE trial_id = '{ids[0]}'",
        # a copy of a real row under a new id: a trial nobody ran
        "INSERT INTO trials (trial_id, run_id, strategy_id, source_sha256, params, exchange, "
        "symbol, timeframe, segment, start_ms, end_ms, fee, slippage, n_obs, sharpe, metrics, "
        "returns, created_at) SELECT 'tr_forged', run_id, strategy_id, source_sha256, params, "
        "exchange, symbol, timeframe, segment, start_ms, end_ms, fee, slippage, n_obs, sharpe, "
        f"metrics, returns, created_at FROM trials WHERE trial_id = '{ids[1]}'",
    )
    report = verify_path(db_path)
    assert not report.ok
    found = {(p.row_id, p.problem) for p in report.row_problems}
    assert found == {(ids[0], "row_missing"), ("tr_forged", "row_unsealed")}
    assert report.row_problem_count == 2


def test_deleting_the_newest_events_is_caught_by_the_anchor(
    db_path: Path, cli: Callable[..., CliResult]
) -> None:
    with EventStore(db_path) as s:
        for i in range(10):  # ten batches: the anchor follows each
            _append(s, i)
    anchor = json.loads(anchor_path(db_path).read_text())
    assert anchor["seq"] == 10
    # delete the last 3 events the way an attacker would, triggers put back afterwards so the
    # chain itself is a valid, shorter chain
    _sql(db_path, "DROP TRIGGER events_no_delete", "DELETE FROM events WHERE seq > 7")
    _sql(db_path, *(s for s in split_sql(SCHEMA) if "events_no_delete" in s))
    r = cli("events", "verify")
    assert r.code == 3, r.stdout + r.stderr
    assert r.error["code"] == "event_chain_broken"
    report = r.json["report"]
    assert report["problem"] == "tail_truncated" and report["events_checked"] == 7
    assert (
        "rara.db.anchor" in r.error["message"] and "events 8..10 were deleted" in r.error["message"]
    )


def test_a_replaced_log_and_a_deleted_anchor_are_caught(db_path: Path, tmp_path: Path) -> None:
    with EventStore(db_path) as s:
        _append(s, 0)
        _append(s, 1)
    # another log of the same length in its place: the anchored seq has another hash
    other = tmp_path / "other" / "rara.db"
    with EventStore(other) as s:
        _append(s, 9)
        _append(s, 8)
    saved = anchor_path(db_path).read_bytes()
    anchor_path(other).write_bytes(saved)
    report = verify_path(other)
    assert not report.ok and report.problem == "anchor_mismatch"
    # the anchor file deleted from a log that has been anchored: not taken for an old log
    anchor_path(db_path).unlink()
    report = verify_path(db_path)
    assert not report.ok and report.problem == "anchor_missing"
    # the whole log deleted, its anchor left: every event was deleted
    for f in other.parent.glob("rara.db*"):
        if f != anchor_path(other):
            f.unlink()
    assert verify_path(other).problem == "tail_truncated"
    assert "rara.db.anchor is missing" in (report.reason or "")


def test_a_log_from_before_anchoring_still_verifies_and_is_anchored_by_its_next_append(
    db_path: Path,
) -> None:
    with EventStore(db_path) as s:
        _append(s, 0)
    # what a home written by an older rara looks like: no anchor file, no anchoring mark
    anchor_path(db_path).unlink()
    _sql(db_path, "DROP TABLE chain_anchor")
    report = verify_path(db_path)
    assert report.ok and report.anchor == "none"
    with EventStore(db_path) as s:  # opening for writing brings the schema up to date
        _append(s, 1)
        _append(s, 2)
    report = verify_path(db_path)
    assert report.ok and report.anchor == "checked" and report.anchor_seq == 3
    anchor_path(db_path).unlink()  # from now on, a missing anchor is a deleted one
    assert verify_path(db_path).problem == "anchor_missing"


def test_rows_written_before_seals_are_adopted_when_the_store_opens(db_path: Path) -> None:
    ids = _experiments(db_path, 2)
    # what a home written by an older rara looks like: rows, and no seal in the log
    conn = sqlite3.connect(db_path)
    rows = conn.execute("SELECT * FROM experiments").fetchall()
    conn.close()
    legacy = db_path.with_name("legacy.db")
    with EventStore(legacy) as s:
        _append(s, 0)
    with ResearchStore(legacy):
        pass
    marks = ",".join("?" * len(rows[0]))
    conn = sqlite3.connect(legacy)
    conn.executemany(f"INSERT INTO experiments VALUES ({marks})", rows)
    conn.commit()
    conn.close()
    report = verify_path(legacy)
    assert report.ok and report.rows_not_covered == 2 and report.rows_checked == 0
    with ResearchStore(legacy):  # the first store to open it seals the rows as they are
        pass
    report = verify_path(legacy)
    assert report.ok and report.rows_checked == 2 and report.rows_not_covered == 0
    with EventStore(legacy) as s:
        seals = [e.payload for e in s.query() if e.type == "state_row_recorded"]
    assert [(p["row_id"], p["adopted"]) for p in seals] == [(ids[0], True), (ids[1], True)]
    _sql(legacy, "DROP TRIGGER experiments_no_update", "UPDATE experiments SET fix_rounds = 9")
    assert {p.row_id for p in verify_path(legacy).row_problems} == set(ids)


def test_seals_cannot_be_appended_by_hand(cli: Callable[..., CliResult]) -> None:
    body = {
        "table": "trials",
        "row_id": "x",
        "row_sha256": "0" * 64,
        "columns": {},
        "adopted": False,
    }
    r = cli("events", "append", "--type", "state_row_recorded", "--payload", json.dumps(body))
    assert r.code == 2 and r.error["code"] == "event_type_reserved"


def test_a_run_killed_mid_write_and_resumed_still_verifies(
    rara_home: Path, cli: Callable[..., CliResult]
) -> None:
    """SIGKILL lands wherever it lands (between a row and its seal is impossible: they share a
    transaction); the killed home and the resumed one both verify, every row covered."""
    env = {**os.environ, "RARA_HOME": str(rara_home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rara", "research", "run", "--seed", "7", "--iterations", "40"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=REPO,
        start_new_session=True,
    )
    db = rara_home / "rara.db"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        try:
            with sqlite3.connect(db) as conn:
                if conn.execute("SELECT count(*) FROM experiments").fetchone()[0] >= 3:
                    break
        except sqlite3.Error:
            continue
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = cli("events", "verify")
    assert killed.code == 0, killed.stdout + killed.stderr
    with sqlite3.connect(db) as conn:
        run_id, done = conn.execute("SELECT run_id, count(*) FROM experiments").fetchone()
    assert done < 40, "the run finished before it was killed"
    resumed = cli("research", "run", "--resume", run_id, "--quiet", timeout=600)
    assert resumed.code == 0, resumed.stdout + resumed.stderr
    after = cli("events", "verify")
    assert after.code == 0, after.stdout + after.stderr
    report = after.json
    assert report["rows_checked"] == 40 + resumed.json["trials"] and report["anchor"] == "checked"
