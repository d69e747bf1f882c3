"""The state DB's bell (`rara.events.wake`): each commit of events in this process rings the
listeners on that DB (however its path is spelt) with its new head, and no other DB's, and
nobody after they stop."""

from __future__ import annotations

import os
from pathlib import Path

from rara.domain.events import SentinelSignalDetected
from rara.events import EventDraft, open_event_store
from rara.events.wake import listening


def signal(i: int) -> EventDraft:
    payload = SentinelSignalDetected(
        signal="test", severity="info", strategy_id=None, symbol=None, value=float(i),
        threshold=None, detail=f"event {i}",
    )  # fmt: skip
    return EventDraft(payload=payload, source="test")


def test_each_commit_rings_the_listeners_on_its_db_only(tmp_path: Path):
    db, other = tmp_path / "a" / "rara.db", tmp_path / "b" / "rara.db"
    os.symlink(tmp_path / "a", tmp_path / "alias")
    rings: list[tuple[str, int]] = []
    with open_event_store(db) as store, open_event_store(other) as other_store:
        with (
            listening(db, lambda seq: rings.append(("a", seq))),
            listening(
                tmp_path / "alias" / ".." / "a" / "rara.db", lambda s: rings.append(("a2", s))
            ),
            listening(other, lambda seq: rings.append(("b", seq))),
        ):
            store.append_many([signal(1), signal(2)])  # one commit, one ring each
            store.append(signal(3).payload, source="test")
            assert rings == [("a", 2), ("a2", 2), ("a", 3), ("a2", 3)]
            other_store.append(signal(4).payload, source="test")
            assert rings[-1:] == [("b", 1)]
            store.append_many([])  # nothing committed: no ring
            assert len(rings) == 5
        store.append(signal(5).payload, source="test")  # nobody listens any more
        assert len(rings) == 5
