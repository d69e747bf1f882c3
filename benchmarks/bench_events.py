"""Event-log throughput: batched and single appends, and verify, against raw sqlite3.

Each figure is printed with a plain reference (raw sqlite3 doing the same inserts or reads on a
plain table in WAL mode, no hashing, no indexes, no triggers) and the ratio to it, so a reader
can tell what the chain, the indexes and the model cost, and whether the project target holds.

    python benchmarks/bench_events.py
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchmarks.report import Figure
from rara.domain.events import TradingOrderFilled
from rara.events import EventDraft, EventStore
from rara.events.schema import COLUMNS

BATCHED_EVENTS = 50_000
BATCH_SIZE = 1_000
SINGLE_EVENTS = 2_000
BATCHED_TARGET = 20_000.0  # events/s, the project's acceptance figure for append_many


def _drafts(n: int, start: int = 0) -> list[EventDraft]:
    # A realistic small payload: an order fill of one of five strategies in one of 16 runs.
    return [
        EventDraft(
            payload=TradingOrderFilled(
                client_order_id=f"co-{i}",
                strategy_id=f"strat-{i % 5}",
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


def _row(name: str, value: float, reference: float, target: float | None) -> dict[str, Any]:
    return {
        "name": name,
        "value": round(value, 1),
        "unit": "events/s",
        "reference": round(reference, 1),
        "ratio": round(value / reference, 4) if reference else None,
        "target": target,
    }


def run() -> list[dict[str, Any]]:
    """Measure in a temporary directory; returns one dict per figure and prints each."""
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="rara-bench-events-") as tmp:
        root = Path(tmp)
        store = EventStore(root / "rara.db")
        batched = _drafts(BATCHED_EVENTS)

        def append_batched() -> None:
            for i in range(0, BATCHED_EVENTS, BATCH_SIZE):
                store.append_many(batched[i : i + BATCH_SIZE])

        batched_rate = _rate(BATCHED_EVENTS, append_batched)

        single = _drafts(SINGLE_EVENTS, start=BATCHED_EVENTS)

        def append_single() -> None:
            for d in single:
                store.append(d.payload, source=d.source, correlation_id=d.correlation_id)

        single_rate = _rate(SINGLE_EVENTS, append_single)

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
            for i in range(0, BATCHED_EVENTS, BATCH_SIZE):
                plain.execute("BEGIN IMMEDIATE")
                plain.executemany(insert, rows[i : i + BATCH_SIZE])
                plain.execute("COMMIT")

        raw_batched_rate = _rate(BATCHED_EVENTS, raw_batched)

        def raw_single() -> None:
            for r in rows[BATCHED_EVENTS:]:
                plain.execute("BEGIN IMMEDIATE")
                plain.execute(insert, r)
                plain.execute("COMMIT")

        raw_single_rate = _rate(SINGLE_EVENTS, raw_single)
        raw_scan_rate = _rate(
            total, lambda: plain.execute("SELECT * FROM plain ORDER BY seq").fetchall()
        )
        plain.close()

    results.append(
        _row(
            f"append_many ({BATCHED_EVENTS} events, batches of {BATCH_SIZE})",
            batched_rate,
            raw_batched_rate,
            BATCHED_TARGET,
        )
    )
    results.append(
        _row(
            f"append ({SINGLE_EVENTS} single-event transactions)",
            single_rate,
            raw_single_rate,
            None,
        )
    )
    results.append(_row(f"verify ({total} events)", verify_rate, raw_scan_rate, None))
    return results


def figures() -> list[Figure]:
    """The same measurements in the shared table format."""
    return [
        Figure(
            f"events {r['name']}",
            r["value"],
            r["unit"],
            "raw sqlite3 inserts",
            r["reference"],
            f"target >= {r['target']:,}/s" if r["target"] else "",
        )
        for r in run()
    ]


def _check(ok: bool) -> None:
    if not ok:
        raise RuntimeError("the benchmark's own event log failed verification")


def _describe(r: dict[str, Any]) -> str:
    line = (
        f"events {r['name']}: {r['value']:,.0f} {r['unit']} "
        f"(raw sqlite3 reference {r['reference']:,.0f}/s, ratio {r['ratio']:.3f})"
    )
    if r["target"] is not None:
        verdict = "met" if r["value"] >= r["target"] else "NOT met"
        line += f"; target >= {r['target']:,.0f}/s {verdict}"
    return line


if __name__ == "__main__":
    for row in run():
        print(_describe(row))
