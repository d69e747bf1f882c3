"""`rara.trading.protection`: rule 4's protective orders once an entry fills, and, after a dead
man's switch fired, the ones it canceled placed again once each: only the newest order of each
kind since the entry counts, so a journaled re-placement (or a cancel rara made itself) places
nothing more."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rara.trading.journal import ManagedOrder
from rara.trading.protection import lost_to_switch, newest_filled_entry, unprotected_entry

BAR = 1_700_000_000_000


def order(seq: int, reason: str, state: str, bar: int | None = BAR, **more: Any) -> ManagedOrder:
    return ManagedOrder(
        seq=seq, client_order_id=f"c{seq}", symbol="BTC/USDT",
        side="buy" if reason == "entry" else "sell",
        order_type="market" if reason == "entry" else "stop_market",
        quantity=Decimal(1), reason=reason, signal_bar_ms=bar, state=state, **more,
    )  # fmt: skip


ENTRY = order(0, "entry", "filled", stop_loss_fraction=0.3, take_profit_fraction=0.5)


def test_an_entry_is_protected_once() -> None:
    assert unprotected_entry([ENTRY]) == ENTRY
    assert unprotected_entry([order(0, "entry", "filled")]) is None  # asked for none
    assert unprotected_entry([ENTRY.but({"state": "acknowledged"})]) is None
    placed = [ENTRY, order(1, "stop_loss", "acknowledged")]
    assert unprotected_entry(placed) is None
    assert unprotected_entry([*placed, order(2, "stop_loss", "canceled", bar=None)]) is None


def test_what_a_firing_canceled_is_placed_again_once() -> None:
    stop, take = order(1, "stop_loss", "canceled"), order(2, "take_profit", "rejected")
    orders = [ENTRY, stop, take]
    assert newest_filled_entry(orders) == ENTRY
    assert lost_to_switch(orders, ENTRY, {"c1"}) == {"stop_loss"}
    assert lost_to_switch(orders, ENTRY, set()) == set()  # rara canceled it itself
    assert lost_to_switch(orders, None, {"c1"}) == set()  # no filled entry
    again = [*orders, order(3, "stop_loss", "acknowledged", bar=None)]
    assert lost_to_switch(again, ENTRY, {"c1"}) == set()  # placed again: nothing more
    twice = [*orders, order(3, "stop_loss", "canceled", bar=None)]
    assert lost_to_switch(twice, ENTRY, {"c1"}) == set()  # its re-placement canceled by rara
    assert lost_to_switch(twice, ENTRY, {"c1", "c3"}) == {"stop_loss"}  # or by a later firing
    later = order(4, "entry", "filled", stop_loss_fraction=0.3)
    assert lost_to_switch([*orders, later], later, {"c1"}) == set()  # an older position's
