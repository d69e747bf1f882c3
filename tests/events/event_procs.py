"""Child processes for the concurrency tests (run as a script, not collected by pytest).

    python event_procs.py writer DB N BATCH SOURCE [BARRIER_DIR]
    python event_procs.py reader DB EXPECT [BARRIER_DIR]
    python event_procs.py deferred DB BEFORE
    python event_procs.py background DB N
Each prints one JSON line on stdout; any exception (e.g. "database is locked") exits non-zero.
With BARRIER_DIR, a child creates ready-<name> there once set up and waits for a file named
"go", so the parent can start several children's work at the same moment (Python start-up
would otherwise let the first finish before the second begins).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from pathlib import Path

from payloads import make  # run as a script: its own folder is first on sys.path

from rara.events import EventStore, anchoring_deferred, tail


def barrier(where: str | None, name: str) -> None:
    if where is None:
        return
    (Path(where) / f"ready-{name}").touch()
    deadline = time.monotonic() + 120  # a hang guard
    while not (Path(where) / "go").exists():
        if time.monotonic() > deadline:
            raise SystemExit("barrier: no go signal")
        time.sleep(0.002)


def writer(db: str, n: int, batch: int, source: str, where: str | None = None) -> None:
    store = EventStore(db)
    barrier(where, source)
    for start in range(0, n, batch):
        store.append_many(
            make("test_event_written", {"i": i, "by": source}, source)
            for i in range(start, min(n, start + batch))
        )
    print(json.dumps({"written": n, "last_seq": store.last_seq()}))
    store.close()


async def _read(db: str, expect: int, where: str | None) -> dict[str, object]:
    store = EventStore(db, readonly=True)  # a reader never needs the write lock
    barrier(where, "reader")
    seqs: list[int] = []
    verified = 0
    async for ev in tail(store, after_seq=0, types=["test_event_written"], poll_s=0.005):
        seqs.append(ev.seq)
        if len(seqs) % 250 == 0:  # verify a consistent snapshot while the writer runs
            report = store.verify()
            if not report.ok:
                raise SystemExit(f"verify failed mid-write: {report}")
            verified += 1
        if len(seqs) >= expect:
            break
    store.close()
    return {
        "seen": len(seqs),
        "first": seqs[0],
        "last": seqs[-1],
        "increasing": all(a < b for a, b in itertools.pairwise(seqs)),
        "contiguous": seqs == list(range(1, len(seqs) + 1)),
        "verified_while_writing": verified,
    }


def deferred(db: str, before: int) -> None:
    """Append `before` events one by one (each anchored), then keep appending inside one
    deferring scope, printing each new head, until killed (a crash mid-batch)."""
    store = EventStore(db)
    for i in range(before):
        store.append_many([make("test_event_written", {"i": i, "by": "before"}, "w")])
    with anchoring_deferred(Path(db)):
        deadline = time.monotonic() + 240  # a hang guard: the parent kills it long before
        i = 0
        while time.monotonic() < deadline:
            store.append_many([make("test_event_written", {"i": i, "by": "scope"}, "w")])
            print(store.last_seq(), flush=True)
            i += 1
    raise SystemExit("deferred: never killed")


def background(db: str, n: int) -> None:
    """Append `n` events in scopes of two whose anchor is written in the background, and exit
    at once: the interpreter waits for the last write."""
    store = EventStore(db)
    for start in range(0, n, 2):
        with anchoring_deferred(Path(db), in_background=True):
            for i in range(start, min(n, start + 2)):
                store.append_many([make("test_event_written", {"i": i, "by": "bg"}, "w")])
    print(json.dumps({"last_seq": store.last_seq()}))


def reader(db: str, expect: int, where: str | None = None) -> None:
    # A safety net against a hung test, not a performance threshold.
    result = asyncio.run(asyncio.wait_for(_read(db, expect, where), timeout=240))
    print(json.dumps(result))


if __name__ == "__main__":
    mode, db, *rest = sys.argv[1:]
    if mode == "writer":
        writer(db, int(rest[0]), int(rest[1]), rest[2], *rest[3:4])
    elif mode == "background":
        background(db, int(rest[0]))
    elif mode == "deferred":
        deferred(db, int(rest[0]))
    elif mode == "reader":
        reader(db, int(rest[0]), *rest[1:2])
    else:
        raise SystemExit(f"unknown mode {mode!r}")
