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

Whether a log has ever been anchored is recorded in the database itself (the ``chain_anchor``
table, written by the first append that finds the anchor file in place), so a missing anchor
file tells a log written before anchoring existed (fine) from one whose anchor was deleted.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
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


def write_anchor(db: Path, seq: int, hash_: str) -> None:
    """Record (seq, hash) as the head of the log in `db`, unless the anchor is already further.

    Best effort: a failed write (a full disk) leaves the anchor behind the log, which weakens the
    truncation check until the next append and is never reported as tampering.
    """
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
