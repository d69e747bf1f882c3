"""Which protective orders (stop-loss, take-profit) a position needs placed, read from the
deployment's orders (`rara.trading.journal.ManagedOrder`): pure functions for
`rara.trading.engine.TradingEngine`.

- `unprotected_entry`: rule 4 of the backtest: the newest entry, filled, that asked for
  protective orders and has none yet (keyed by the entry's signal bar, as journaled);
- `lost_to_switch`: after a dead man's switch fired, the kinds of protective order whose newest
  order the firing canceled, which are placed again. Only the newest order of each kind since
  the entry counts, so once a re-placement is journaled (open, filled or refused) nothing is
  placed again for that firing, after a restart too.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from rara.trading.journal import ManagedOrder

PROTECTIVE = ("stop_loss", "take_profit")


def newest_filled_entry(orders: Sequence[ManagedOrder]) -> ManagedOrder | None:
    """The newest entry, if it has filled."""
    entries = [o for o in orders if o.reason == "entry"]
    if not entries:
        return None
    entry = max(entries, key=lambda o: o.seq)
    return entry if entry.state == "filled" else None


def unprotected_entry(orders: Sequence[ManagedOrder]) -> ManagedOrder | None:
    """The newest entry, if it has filled and its protective orders are not placed yet."""
    entry = newest_filled_entry(orders)
    if entry is None:
        return None
    placed = any(o.reason in PROTECTIVE and o.signal_bar_ms == entry.signal_bar_ms for o in orders)
    wanted = entry.stop_loss_fraction is not None or entry.take_profit_fraction is not None
    return entry if wanted and not placed else None


def lost_to_switch(
    orders: Sequence[ManagedOrder], entry: ManagedOrder | None, canceled: Collection[str]
) -> set[str]:
    """The kinds of `entry`'s protective orders whose newest order (since the entry) is
    canceled and among the client ids a dead man's switch `canceled`."""
    if entry is None or not canceled:
        return set()
    newest: dict[str, ManagedOrder] = {}
    for o in sorted(orders, key=lambda o: o.seq):
        if o.seq > entry.seq and o.reason in PROTECTIVE:
            newest[o.reason] = o
    return {
        reason
        for reason, o in newest.items()
        if o.state == "canceled" and o.client_order_id in canceled
    }
