"""Same inputs, same log: with a fixed clock two fresh stores produce the same hashes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rara.events import EventStore
from tests.events.payloads import draft

DRAFTS: list[dict[str, Any]] = [
    {
        "type": "research_hypothesis_created",
        "payload": {"idea": "mean reversion on 4h", "params": {"z": 2.0, "n": 20}},
        "source": "research",
        "correlation_id": "run-0001",
    },
    {
        "type": "research_experiment_completed",
        "payload": {"sharpe": 1.23, "trades": 41, "note": "über 🚀", "ok": True, "none": None},
        "source": "research",
        "correlation_id": "run-0001",
        "strategy_id": "strat-5f3a",
    },
    {
        "type": "trading_order_filled",
        "payload": {"symbol": "BTC/USDT", "price": 64000.5, "qty": 0.001},
        "source": "trading",
        "strategy_id": "strat-5f3a",
    },
]
# The head hash of the log above. If this changes, every existing log's hashes change with it:
# only update it together with a migration note.
GOLDEN_HEAD = "f90b35d63a83f38b8ebf83d3fb3e0539ea0c01648ce863ba4097d2e2982a5eb2"


def _build(path: Path, clock: Callable[[], datetime]) -> EventStore:
    store = EventStore(path, clock=clock)
    first = draft(DRAFTS[0])
    store.append(
        first.payload,
        source=first.source,
        correlation_id=first.correlation_id,
        strategy_id=first.strategy_id,
    )
    # batched and single appends chain the same way
    store.append_many([draft(d) for d in DRAFTS[1:]] * 10)
    return store


def test_same_inputs_same_chain(
    tmp_path: Path, make_clock: Callable[..., Callable[[], datetime]]
) -> None:
    a = _build(tmp_path / "a" / "rara.db", make_clock())
    b = _build(tmp_path / "b" / "rara.db", make_clock())
    ea, eb = a.query(), b.query()
    assert ea == eb  # every field: ids, timestamps, hashes
    assert a.head() == b.head()
    assert a.verify().head_hash == b.verify().head_hash == a.head()[1]
    assert a.head()[1] == GOLDEN_HEAD
    # a different clock gives a different chain: the timestamp is part of what is hashed
    c = _build(tmp_path / "c" / "rara.db", make_clock(step=timedelta(seconds=1)))
    assert c.head()[1] != a.head()[1]
    for s in (a, b, c):
        s.close()
