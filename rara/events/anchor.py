"""The chain head's anchor: a small file beside the state DB (``rara.db.anchor``) holding the
(seq, hash) of the log's head, rewritten after every committed append batch.

The hash chain proves that what is in the log was not altered, but deleting the newest events
leaves a shorter chain that is still valid. The anchor remembers how far the log reached, so
`rara events verify` catches a log whose head is behind it (the tail was deleted) or whose event
at the anchored seq has another hash (the log was replaced).

The anchor is written after the commit and after the log's WAL is synced to disk, atomically (a
temporary file, fsync, rename), and never moves backwards, so it never claims more than the disk
holds. A crash between the commit and the write leaves it a batch behind, which verify accepts:
the log may be ahead of its anchor, never behind.

Writing it costs two syncs (the WAL's and the file's), more than the append itself. A writer that
appends many times in a row (the research loop, several rows per candidate) defers it: inside
``with anchoring_deferred(db):`` appends to `db` from any thread or connection of the process only
note their head, and the newest is anchored once, when the outermost scope ends (an exception
included). The anchor then lags the log by at most one scope, which is what a crash between a
commit and its anchor already left; a crash inside the scope leaves the anchor where the last
write put it, still behind or at the log, and deleting events anchored before that is caught as
ever. With ``in_background=True`` the scope's end hands that one write to a thread and returns,
so the syncs overlap the next batch's work: the next such end on the same DB waits for it first
(one write in flight, so the anchor trails by at most two scopes), `wait_for_anchor` waits for it
on demand, and the interpreter waits for it at exit (the thread is not a daemon).

Whether a log has ever been anchored is recorded in the database itself (the ``chain_anchor``
table, written by the first append that finds the anchor file in place), so a missing anchor
file tells a log written before anchoring existed (fine) from one whose anchor was deleted.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError


class Anchor(BaseModel):
    """The head a log had reached: its seq and that event's hash."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int
    hash: str


class AnchorUnreadable(Exception):
    """The anchor file exists but does not hold an anchor."""


def anchor_path(db: Path) -> Path:
    return db.with_name(db.name + ".anchor")


def read_anchor(db: Path) -> Anchor | None:
    """The anchor of the log in `db`; None when there is no anchor file."""
    path = anchor_path(db)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeError) as exc:
        raise AnchorUnreadable(f"{path} cannot be read: {exc}") from exc
    try:
        return Anchor.model_validate_json(text)
    except ValidationError as exc:
        raise AnchorUnreadable(f"{path} does not hold a (seq, hash) anchor") from exc


@dataclass
class _Deferred:
    """The deferring scopes open on one state DB in this process, and the newest head appended
    to it since the first of them opened."""

    scopes: int = 0
    head: tuple[int, str] | None = None


_DEFERRED: dict[str, _Deferred] = {}  # by the DB's absolute path
_IN_FLIGHT: dict[str, threading.Thread] = {}  # the background anchor write of each DB
_DEFERRED_LOCK = threading.Lock()  # held for dictionary work only, never across a sync
# One anchor write at a time in this process, so its "never moves back" test cannot interleave
# with another thread's (the check across processes stays best effort: a lost race leaves the
# anchor behind the log, which verify accepts).
_WRITE_LOCK = threading.Lock()


def _key(db: Path) -> str:
    # abspath, not resolve(): no syscall per append. Two spellings of one file through a symlink
    # only mean an append outside the scope anchors at once, as it would without one.
    return os.path.abspath(db)


@contextlib.contextmanager
def anchoring_deferred(db: Path, *, in_background: bool = False) -> Iterator[None]:
    """Within the scope, appends to the log in `db` (any thread, any connection of this
    process) leave the anchor to the end of the outermost scope, which anchors the newest head
    once, however the scope ends: there, or in a background thread with `in_background`.
    Scopes nest and may be opened from several threads."""
    key = _key(db)
    with _DEFERRED_LOCK:
        pending = _DEFERRED.setdefault(key, _Deferred())
        pending.scopes += 1
    try:
        yield
    finally:
        with _DEFERRED_LOCK:
            pending.scopes -= 1
            head = pending.head if pending.scopes == 0 else None
            if pending.scopes == 0:
                del _DEFERRED[key]
        if head is not None and in_background:
            _write_in_background(db, key, head)
        elif head is not None:
            write_anchor(db, *head)


def _write_in_background(db: Path, key: str, head: tuple[int, str]) -> None:
    wait_for_anchor(db)  # one write in flight per DB: the anchor never trails further
    writer = threading.Thread(target=write_anchor, args=(db, *head), name="rara-anchor")
    writer.start()  # before it is registered: whoever waits for it joins a started thread
    with _DEFERRED_LOCK:
        _IN_FLIGHT[key] = writer


def wait_for_anchor(db: Path) -> None:
    """Return once the anchor write a scope on `db` handed to the background, if any, is done."""
    with _DEFERRED_LOCK:
        writer = _IN_FLIGHT.pop(_key(db), None)
    if writer is not None:
        writer.join()


def anchor_after_commit(db: Path, seq: int, hash_: str) -> None:
    """After a committed append whose head is (seq, hash): anchor it now, or note it for the end
    of the deferring scope open on `db` (`anchoring_deferred`)."""
    with _DEFERRED_LOCK:
        pending = _DEFERRED.get(_key(db))
        if pending is not None:
            if pending.head is None or seq > pending.head[0]:
                pending.head = (seq, hash_)
            return
    write_anchor(db, seq, hash_)


def write_anchor(db: Path, seq: int, hash_: str) -> None:
    """Record (seq, hash) as the head of the log in `db`, unless the anchor is already further.

    Best effort: a failed write (a full disk) leaves the anchor behind the log, which weakens the
    truncation check until the next append and is never reported as tampering.
    """
    with _WRITE_LOCK:
        _write_anchor(db, seq, hash_)


def _write_anchor(db: Path, seq: int, hash_: str) -> None:
    path = anchor_path(db)
    with contextlib.suppress(AnchorUnreadable):
        current = read_anchor(db)
        if current is not None and current.seq >= seq:
            return  # another writer anchored a later head; the anchor never moves back
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        # The log first: with synchronous=NORMAL a commit is not yet on disk, and an anchor that
        # outlived a power cut its events did not would read as a deleted tail.
        _fsync_file(db.with_name(db.name + "-wal"))
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(Anchor(seq=seq, hash=hash_).model_dump_json())
            f.flush()
            os.fsync(f.fileno())  # the content before the rename: never a torn anchor
        os.replace(tmp, path)
        # No fsync of the directory: a rename lost to a power cut leaves the previous anchor,
        # which is behind the log, and that verify accepts.
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _fsync_file(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return  # no WAL: the commit went to the main file
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)


def mark_anchored(conn: sqlite3.Connection, db: Path) -> None:
    """Inside an append's write transaction: once the anchor file exists, record in the log's
    database that it is anchored, so a later missing file is a deleted anchor."""
    if conn.execute("SELECT 1 FROM chain_anchor").fetchone() is not None:
        return
    anchor = None
    with contextlib.suppress(AnchorUnreadable):
        anchor = read_anchor(db)
    if anchor is not None:
        conn.execute("INSERT INTO chain_anchor (id, since_seq) VALUES (1, ?)", (anchor.seq,))


def anchored_since(conn: sqlite3.Connection) -> int | None:
    """The seq the log was first anchored at; None if it never was (or predates anchoring)."""
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "chain_anchor" not in names:
        return None
    row = conn.execute("SELECT since_seq FROM chain_anchor").fetchone()
    return int(row[0]) if row is not None else None
