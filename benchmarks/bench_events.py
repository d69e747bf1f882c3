"""Event-log throughput: batched and single appends, and verify, against raw sqlite3.

Each figure is printed with a plain reference (raw sqlite3 doing the same inserts or reads on a
plain table in WAL mode, no hashing, no indexes, no triggers) and the ratio to it, so a reader
can tell what the chain, the indexes and the model cost, and whether the project target holds.
Every figure is the min / median / max of `REPEATS` repeats, each in a fresh directory.

    python -m benchmarks.bench_events [--quick]
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchmarks.report import Figure, Spread, print_figures, quick, verdict
from rara.domain.events import TradingOrderFilled
from rara.events import EventDraft, EventStore
from rara.events.schema import COLUMNS

BATCHED_EVENTS = 50_000
BATCH_SIZE = 1_000
SINGLE_EVENTS = 2_000
REPEATS = 3
BATCHED_TARGET = 20_000.0  # events/s, the project's acceptance figure for append_many


def fill_drafts(n: int, start: int = 0) -> list[EventDraft]:
    # A realistic small payload: an order fill of one of five strategies in one of 16 runs.
    return [
        EventDraft(
            payload=TradingOrderFilled(
                client_order_id=f"co-{i}",
                strategy_id=f"strat-{i % 5}",
                account=f"paper:run-{i % 16}",
                exchange="binance",
                mode="paper",
                symbol="BTC/USDT",
                venue_order_id=f"o-{i}",
                fill_id=f"f-{i}",
                side="buy" if i % 2 else "sell",
                quantity=Decimal(1 + i % 7) / 1000,
                price=Decimal("64000.5") + i % 100,
                fee=Decimal("0.0321"),
                fee_currency="USDT",
                cumulative_quantity=Decimal(1 + i % 7) / 1000,
                filled_ms=1_714_521_600_000 + i,
            ),
            source="bench",
            correlation_id=f"run-{i % 16}",
        )
        for i in range(start, start + n)
    ]


def _plain_db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE plain (seq INTEGER PRIMARY KEY, event_id TEXT, type TEXT, ts TEXT, "
        "source TEXT, correlation_id TEXT, strategy_id TEXT, payload TEXT, prev_hash TEXT, "
        "hash TEXT)"
    )
    return conn


def _rate(n: int, fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return n / (time.perf_counter() - t0)


@dataclass(frozen=True)
class Rates:
    """One repeat's rates, events/s: ours, then raw sqlite3 doing the same on a plain table."""

    batched: float
    single: float
    verify: float
    raw_batched: float
    raw_single: float
    raw_scan: float
    events: int


def measure_once(root: Path, batched_events: int, single_events: int) -> Rates:
    """One repeat in `root` (a fresh directory: a new event log and a new plain database)."""
    store = EventStore(root / "rara.db")
    batched = fill_drafts(batched_events)

    def append_batched() -> None:
        for i in range(0, batched_events, BATCH_SIZE):
            store.append_many(batched[i : i + BATCH_SIZE])

    batched_rate = _rate(batched_events, append_batched)
    single = fill_drafts(single_events, start=batched_events)

    def append_single() -> None:
        for d in single:
            store.append(d.payload, source=d.source, correlation_id=d.correlation_id)

    single_rate = _rate(single_events, append_single)
    total = store.last_seq()
    verify_rate = _rate(total, lambda: _check(store.verify().ok))
    # The very rows the store wrote, so the reference inserts the same bytes.
    store.close()
    reader = sqlite3.connect(root / "rara.db")
    rows: Sequence[tuple[Any, ...]] = reader.execute(
        f"SELECT {COLUMNS} FROM events ORDER BY seq"
    ).fetchall()
    reader.close()

    plain = _plain_db(root / "plain.db")
    insert = "INSERT INTO plain VALUES (?,?,?,?,?,?,?,?,?,?)"

    def raw_batched() -> None:
        for i in range(0, batched_events, BATCH_SIZE):
            plain.execute("BEGIN IMMEDIATE")
            plain.executemany(insert, rows[i : i + BATCH_SIZE])
            plain.execute("COMMIT")

    raw_batched_rate = _rate(batched_events, raw_batched)

    def raw_single() -> None:
        for r in rows[batched_events:]:
            plain.execute("BEGIN IMMEDIATE")
            plain.execute(insert, r)
            plain.execute("COMMIT")

    raw_single_rate = _rate(single_events, raw_single)
    raw_scan_rate = _rate(
        total, lambda: plain.execute("SELECT * FROM plain ORDER BY seq").fetchall()
    )
    plain.close()
    return Rates(
        batched_rate,
        single_rate,
        verify_rate,
        raw_batched_rate,
        raw_single_rate,
        raw_scan_rate,
        total,
    )


def sizes() -> tuple[int, int, int]:
    """(batched events, single events, repeats); --quick shrinks them to a smoke run."""
    if quick():
        return 5_000, 200, 2
    return BATCHED_EVENTS, SINGLE_EVENTS, REPEATS


def figures() -> list[Figure]:
    """Each figure over `REPEATS` repeats, each repeat in a fresh directory."""
    batched_events, single_events, repeats = sizes()
    runs = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="rara-bench-events-") as tmp:
            runs.append(measure_once(Path(tmp), batched_events, single_events))

    def spread(field: str) -> Spread:
        return Spread.of(getattr(r, field) for r in runs)

    batched = spread("batched")
    return [
        Figure(
            f"events append_many ({batched_events:,}, batches of {BATCH_SIZE:,})",
            batched,
            "events/s",
            "raw sqlite3 executemany, same rows",
            spread("raw_batched"),
            f"target >= {BATCHED_TARGET:,.0f}/s: {verdict(batched.median >= BATCHED_TARGET)}",
        ),
        Figure(
            f"events append ({single_events:,} one-event transactions)",
            spread("single"),
            "events/s",
            "raw sqlite3 insert per transaction",
            spread("raw_single"),
        ),
        Figure(
            f"events verify ({runs[0].events:,} events)",
            spread("verify"),
            "events/s",
            "raw sqlite3 scan of the same rows",
            spread("raw_scan"),
            "hash chain and seals re-checked",
        ),
    ]


def _check(ok: bool) -> None:
    if not ok:
        raise RuntimeError("the benchmark's own event log failed verification")


if __name__ == "__main__":
    if "--quick" in sys.argv[1:]:
        os.environ["RARA_BENCH_QUICK"] = "1"
    print_figures("event log", figures())
