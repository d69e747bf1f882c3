"""The research state a run started from, so a replay of it judges as the original did.

A run's verdicts depend on more than its own replies: the gate's deflated Sharpe counts every
trial of the home, duplicates are sought among every experiment on the market, the proposer is
shown lessons of earlier runs, and a promotion's directory depends on the strategies already
promoted. So when a live LLM run starts, `snapshot` copies those rows (trials, holdout reads,
experiments, lessons) and the promoted manifests into a small SQLite file, kept compressed in the
reply cache beside the run's replies.

A replay never writes into its home's own state: it runs in a scratch home of its own
(`scratch_home`: ``$RARA_HOME/replays/<run_id>/<n>``, reading the home's data and reply cache),
seeded by `restore` with exactly that starting state. In the home that recorded the run or in a
fresh one, first or last, the replay sees what the original saw, so its run hash is the
original's. The copied experiment and trial rows are sealed as adopted rows when the scratch
stores open (`rara.events.seal`); seals carry no run id, so the run hash never sees them.
"""

from __future__ import annotations

import sqlite3
import tempfile
import zlib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from rara.domain.events import ResearchRunStarted
from rara.errors import RaraError
from rara.events.seal import SEAL_TYPE
from rara.home import Home
from rara.llm.ports import LlmUnusable
from rara.research.memory import LessonStore
from rara.research.store import ResearchStore
from rara.state import connect, state_db_error
from rara.validation.trials import TrialStore
from rara_sandbox.manifest import MANIFEST_FILE

# every table a run reads that other runs write (the research_runs table only names run ids)
TABLES = ("trials", "holdout_reads", "experiments", "lessons")
_PROMOTED = "promoted_manifests"
_NO_STATE = "no recorded state (the run was recorded before rara kept the state a run starts from)"


class ReplayOrigin(BaseModel):
    """What a replay reproduces and where it ran: the summary's ``replay`` section."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str
    state_db: str  # the scratch state the replay wrote (the home's own is untouched)
    # "recorded": seeded with the state the original started from; "rebuilt": that state rebuilt
    # from the home's log (a run recorded before rara kept it); "missing": neither, so the
    # replay started from nothing and may judge otherwise
    starting_state: Literal["recorded", "rebuilt", "missing"]
    original_run_hash: str | None  # the home's own log's, else the one recorded at its end

    def judge(self, run_hash: str) -> dict[str, Any]:
        """The section, with whether the replay's run hash is the original's (None: unknown)."""
        reproduced = None if self.original_run_hash is None else run_hash == self.original_run_hash
        return {**self.model_dump(), "run_hash": run_hash, "reproduced": reproduced}

    def missed(self, exc: LlmUnusable) -> LlmUnusable:
        """A replay's miss, saying when the replay could not start where the original did."""
        if self.starting_state != "missing":
            return exc
        message = f"{exc.message}; the replay started from {_NO_STATE}"
        return type(exc)(exc.code, message, exc.suggestion, exc.call)


def diverged(section: dict[str, Any]) -> RaraError:
    """The error of a replay whose run hash is not the original's."""
    why = (
        f"it started from {_NO_STATE}"
        if section["starting_state"] == "missing"
        else "the code, data or settings differ from the recording's, or the cache was edited"
    )
    return RaraError(
        "replay_diverged",
        f"the replay of {section['run_id']} ended with run hash {section['run_hash'][:16]}, the "
        f"original with {str(section['original_run_hash'])[:16]}: {why}",
        f"compare the replay's events (`RARA_HOME={Path(section['state_db']).parent} rara events "
        "query`) with the original's, or replay with the code and config.toml it was recorded with",
    )


def snapshot(home: Home) -> bytes:
    """`home`'s research state now, as the compressed bytes of a SQLite file: the rows of
    `TABLES` (as stored) and the manifest of each promoted strategy, read in one transaction."""
    try:
        found = _snapshot(home, None)
    except (sqlite3.Error, OSError) as exc:
        raise state_db_error(home.state_db, "cannot keep the state a run starts from", exc) from exc
    assert found is not None  # no run to look for: the home's state as it is
    return found


def rebuild(home: Home, run_id: str) -> bytes | None:
    """A `snapshot` of the state run `run_id` started from, rebuilt from `home`'s own log for a
    run recorded before rara kept it: the experiments and trials sealed before the run's start
    event, their lessons, and the holdout reads made before it (the promoted manifests are
    today's). None when the home's log holds no start of that run."""
    try:
        return _snapshot(home, run_id)
    except (sqlite3.Error, OSError) as exc:
        raise state_db_error(home.state_db, "cannot rebuild a run's starting state", exc) from exc


def _sealed_before(table: str) -> str:
    return (
        "SELECT json_extract(payload, '$.row_id') FROM home.events WHERE type = :seal AND "
        f"json_extract(payload, '$.table') = '{table}' AND seq < :seq"
    )


# the rows that existed when a run started (`rebuild`), by table
_BEFORE = {
    "trials": f"trial_id IN ({_sealed_before('trials')})",
    "experiments": f"experiment_id IN ({_sealed_before('experiments')})",
    "lessons": f"experiment_id IN ({_sealed_before('experiments')})",  # written with its row
    "holdout_reads": "created_at < :ts",
}


def _snapshot(home: Home, before_run: str | None) -> bytes | None:
    with tempfile.TemporaryDirectory(prefix="rara-start-") as tmp:
        path = Path(tmp) / "start.db"
        conn = connect(path)
        try:
            if home.state_db.exists():
                conn.execute("ATTACH DATABASE ? AS home", (str(home.state_db),))
                present = _tables(conn, "home")
                conn.execute("BEGIN")
                params: dict[str, object] = {}
                if before_run is not None:
                    start = (
                        conn.execute(
                            "SELECT seq, ts FROM home.events WHERE correlation_id = ? AND "
                            "type = ? ORDER BY seq LIMIT 1",
                            (before_run, ResearchRunStarted.event_type),
                        ).fetchone()
                        if "events" in present
                        else None
                    )
                    if start is None:
                        conn.execute("COMMIT")
                        return None
                    params = {"seal": SEAL_TYPE, "seq": start[0], "ts": start[1]}
                for table in TABLES:
                    if table in present:
                        where = "" if before_run is None else f" WHERE {_BEFORE[table]}"
                        conn.execute(
                            f"CREATE TABLE main.{table} AS SELECT * FROM home.{table}{where}",
                            params,
                        )
                conn.execute("COMMIT")
                conn.execute("DETACH DATABASE home")
            conn.execute(f"CREATE TABLE {_PROMOTED} (name TEXT PRIMARY KEY, manifest TEXT)")
            for manifest in sorted(home.promoted_dir.glob(f"*/{MANIFEST_FILE}")):
                conn.execute(
                    f"INSERT INTO {_PROMOTED} VALUES (?, ?)",
                    (manifest.parent.name, manifest.read_text(encoding="utf-8")),
                )
        finally:
            conn.close()
        return zlib.compress(path.read_bytes())


def restore(state: bytes, scratch: Home) -> None:
    """Seed the fresh scratch home `scratch` with a `snapshot`: the stores' tables created as
    they always are, then the copied rows inserted as they were stored (their seq and ids too,
    since the gate reads trials in seq order)."""
    try:
        db = zlib.decompress(state)
    except zlib.error as exc:
        raise RaraError(
            "llm_cache_corrupt",
            f"the state the run started from, kept in its reply cache, cannot be read: {exc}",
            "replay from a copy of the recording home's cache/llm",
        ) from exc
    try:
        _restore(db, scratch)
    except (sqlite3.Error, OSError) as exc:
        raise state_db_error(scratch.state_db, "cannot seed the replay's state", exc) from exc


def _restore(db: bytes, scratch: Home) -> None:
    ResearchStore(scratch.state_db).close()
    TrialStore(scratch.state_db).close()
    LessonStore(scratch.state_db).close()
    with tempfile.TemporaryDirectory(prefix="rara-start-") as tmp:
        path = Path(tmp) / "start.db"
        path.write_bytes(db)
        conn = connect(scratch.state_db)
        try:
            conn.execute("ATTACH DATABASE ? AS start", (str(path),))
            present = _tables(conn, "start")
            conn.execute("BEGIN IMMEDIATE")
            for table in TABLES:
                if table not in present:
                    continue
                mine = _columns(conn, "main", table)
                theirs = set(_columns(conn, "start", table))
                shared = ", ".join(c for c in mine if c in theirs)
                conn.execute(
                    f"INSERT INTO main.{table} ({shared}) SELECT {shared} FROM start.{table} "
                    "ORDER BY rowid"
                )
            conn.execute("COMMIT")
            promoted = (
                conn.execute(f"SELECT name, manifest FROM start.{_PROMOTED}").fetchall()
                if _PROMOTED in present
                else []
            )
            conn.execute("DETACH DATABASE start")
        finally:
            conn.close()
    for name, manifest in promoted:
        # only the manifest: what decides a promotion's directory is whether it holds the same code
        target = scratch.promoted_dir / Path(name).name
        target.mkdir(parents=True, exist_ok=True)
        (target / MANIFEST_FILE).write_text(manifest, encoding="utf-8")


def scratch_home(home: Home, run_id: str) -> Home:
    """A new, empty home for one replay of `run_id`: ``replays/<run_id>/<n>`` under `home`."""
    runs = home.root / "replays" / run_id
    n = 1
    while True:
        root = runs / str(n)
        try:
            runs.mkdir(parents=True, exist_ok=True)
            root.mkdir()  # exclusive: two replays at once each get their own
        except FileExistsError:
            n += 1
            continue
        except OSError as exc:
            raise state_db_error(runs, "cannot make a replay's scratch home", exc) from exc
        return Home(root=root)


def _tables(conn: sqlite3.Connection, schema: str) -> set[str]:
    rows = conn.execute(f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table'")
    return {r[0] for r in rows}


def _columns(conn: sqlite3.Connection, schema: str, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA {schema}.table_info({table})")]
