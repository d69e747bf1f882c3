"""`WindDowns.pending` on a real event store: which moves out of live still need a wind-down.
A strategy moved out of live is pending (with the account it was approved for, kept after the
demotion cleared it) until an ending ``trading_wind_down`` names that move; ``started`` and
``failed`` do not end it; approved and moved out again, the new move is pending on its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rara.daemon.wind_down import WindDowns
from rara.domain.events import TradingWindDown, WindDownStep
from rara.events import EventStore, open_event_store
from rara.feedback.lifecycle import Lifecycle, move
from tests.kit.daemon import write_live_candidate

SID = "st_bbbb000000000002"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    with open_event_store(tmp_path / "rara.db") as s:
        yield s


def _say(store: EventStore, step: WindDownStep, seq: int) -> None:
    store.append(
        TradingWindDown(
            strategy_id=SID, account="tn", symbol="BTC/USDT", step=step, demotion_seq=seq
        ),
        source="daemon",
        strategy_id=SID,
    )


def _pending(store: EventStore) -> list[tuple[str, str, int]]:
    lifecycle = Lifecycle(store)
    return [
        (p.strategy_id, p.account, p.demotion_seq)
        for p in WindDowns(store).pending(lifecycle.strategies())
    ]


def test_a_move_out_of_live_is_pending_until_an_ending_event_names_it(store: EventStore) -> None:
    write_live_candidate(store, SID)
    assert _pending(store) == []  # never live
    lifecycle = Lifecycle(store)
    move(store, lifecycle, SID, "live", reason="ok", by="ops", account="tn")
    assert _pending(store) == []  # live: its component trades it
    first = move(store, lifecycle, SID, "paper", reason="drawdown", by="feedback").seq
    rec = Lifecycle(store).get(SID)
    assert rec is not None and rec.account is None and rec.live_account == "tn"
    assert _pending(store) == [(SID, "tn", first)]
    _say(store, "started", first)
    _say(store, "failed", first)
    assert _pending(store) == [(SID, "tn", first)]  # cut short: a restart finishes it
    _say(store, "flat", first)
    assert _pending(store) == []

    # back to live and out again (retired): the new move is pending, the old one stays done
    move(store, lifecycle, SID, "live_candidate", reason="gate 2", by="gate2")
    move(store, lifecycle, SID, "live", reason="ok", by="ops", account="tn")
    second = move(store, lifecycle, SID, "retired", reason="critical", by="feedback").seq
    assert _pending(store) == [(SID, "tn", second)]
    _say(store, "still_open", second)
    assert _pending(store) == []
