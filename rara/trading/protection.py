"""Protective orders (stop-loss, take-profit): which a position needs placed, read from the
deployment's orders (pure functions), and `Protector`, which places them for
`rara.trading.engine.TradingEngine`.

- `unprotected_entry`: rule 4 of the backtest: the newest entry, filled, that asked for
  protective orders and has none yet (keyed by the entry's signal bar, as journaled);
- `lost_to_switch`: after a dead man's switch fired, the kinds of protective order whose newest
  order the firing canceled, which are placed again. Only the newest order of each kind since
  the entry counts, so once a re-placement is journaled (open, filled or refused) nothing is
  placed again for that firing, after a restart too.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from decimal import Decimal

from rara.domain.events import IntentReason
from rara.domain.money import from_float
from rara.trading.account import AccountBook
from rara.trading.control import Control
from rara.trading.feed import ClosedBar
from rara.trading.intents import IntentPath
from rara.trading.journal import ManagedOrder
from rara.trading.rules import protective_levels

PROTECTIVE = ("stop_loss", "take_profit")
# Why a take-profit beside a stop-loss is not sent to an exchange (`Protector._refuse_second_sell`)
SECOND_SELL = "take_profit_beside_stop_loss"
PAST_TRIGGER = "would_trigger_immediately"  # the venue's code for a trigger already passed


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


class Protector:
    """Rule 4 for a running engine: once the entry has filled, its stop-loss and take-profit
    orders, at fractions of its fill price (journaled with the entry, so a restart places the
    same ones); again, once, for each one a dead man's switch canceled; and the two things a
    real exchange does that a simulated one does not:

    - a trigger the market is already past is refused (``would_trigger_immediately``: the entry
      bar closed beyond it): the position is sold at market on that bar instead, after the
      strategy's decision (an exit on the bar sells first), as a simulated venue fills a
      trigger the open gapped past;
    - a spot account locks what a resting sell would sell, so with a stop-loss resting a
      take-profit beside it would be refused for want of funds: it is journaled as refused by
      the market's rules, with its levels, and never sent (paper rests both, one cancelling
      the other, as the backtest does).
    """

    def __init__(
        self,
        intents: IntentPath,
        account: AccountBook,
        control: Control,
        lost: Iterable[str] = (),
    ) -> None:
        self.intents = intents
        self.orders = intents.orders
        self.account = account
        self.control = control
        # Stops are looked for only after the orders changed (`OrderManager.changes`), the only
        # way an entry can newly need them.
        self._protected_at: int | None = None
        self._switch_canceled: set[str] = set(lost)
        self.passed: IntentReason | None = None  # a trigger refused as passed on this bar

    @property
    def lost_any(self) -> bool:
        """Whether a dead man's switch canceled something that may need placing again."""
        return bool(self._switch_canceled)

    def lost(self, client_order_ids: Iterable[str]) -> None:
        """A dead man's switch canceled these orders: the position's protective orders among
        them are placed again (from the loop, between bars)."""
        self._switch_canceled.update(client_order_ids)
        self._protected_at = None

    def protect(self, bar: ClosedBar) -> None:
        if self._protected_at == self.orders.changes:
            return  # no order changed since the last look: no entry newly filled
        self._protected_at = self.orders.changes
        orders = self.orders.orders()
        entry = unprotected_entry(orders)
        replace: set[str] = set()
        if entry is None:
            entry = newest_filled_entry(orders)
            replace = self._lost_protection(entry)
            if not replace:
                return
        if entry is None or entry.average_price is None:
            return
        _, held = self.account.holdings()
        if held <= 0:
            return
        sl, tp = entry.stop_loss_fraction, entry.take_profit_fraction
        levels = protective_levels(
            float(entry.average_price),
            float("nan") if sl is None else sl,
            float("nan") if tp is None else tp,
        )
        for reason, trigger in (
            ("stop_loss", levels.stop_loss),
            ("take_profit", levels.take_profit),
        ):
            if trigger is None or (replace and reason not in replace):
                continue
            ruled = self.intents.ruled is not None
            if reason == "take_profit" and levels.stop_loss is not None and ruled:
                self._refuse_second_sell(entry, trigger, levels.stop_loss, held, bar)
                continue
            placed = self.intents.intend(
                reason,  # type: ignore[arg-type]
                None if replace else entry.signal_bar_ms,  # a re-placement answers no bar
                from_float(bar.close),
                side="sell",
                order_type="stop_market" if reason == "stop_loss" else "take_profit_market",
                quantity=held,
                trigger_price=trigger,
                reduce_only=True,
            )
            if placed.reject_code == PAST_TRIGGER:
                self.passed = reason  # type: ignore[assignment]

    def sell_passed(self, bar: ClosedBar) -> None:
        """Sell at market what a trigger refused as passed would have sold; keyed on this bar,
        since the refused order holds the entry's key."""
        reason, self.passed = self.passed, None
        if reason is None:
            return
        _, held = self.account.holdings()
        if held > 0:
            self.intents.sell_at_market(reason, bar.open_ms, from_float(bar.close), held)

    def _refuse_second_sell(
        self,
        entry: ManagedOrder,
        take_profit: Decimal,
        stop_loss: Decimal,
        held: Decimal,
        bar: ClosedBar,
    ) -> None:
        intent = self.intents.intent_of(
            "take_profit",
            entry.signal_bar_ms,
            from_float(bar.close),
            side="sell",
            order_type="take_profit_market",
            quantity=held,
            trigger_price=take_profit,
            reduce_only=True,
        )
        if self.orders.find(intent) is None:
            self.intents.count_denial(SECOND_SELL)
        self.orders.reject(
            intent,
            SECOND_SELL,
            f"{intent.request.symbol}: the stop-loss at {stop_loss} holds the whole position; a "
            f"spot account cannot also rest the take-profit at {take_profit}, so it is not sent",
            {
                "stop_loss": format(stop_loss, "f"),
                "take_profit": format(take_profit, "f"),
                "quantity": format(held, "f"),
            },
            by="market_rules",
        )

    def _lost_protection(self, entry: ManagedOrder | None) -> set[str]:
        """The kinds of protective order a dead man's switch canceled, to place again (none
        while HALTED: a kill cancels them on purpose)."""
        if entry is None or not self._switch_canceled:
            return set()
        self.control.refresh()
        if self.control.state == "HALTED":
            return set()
        return lost_to_switch(self.orders.orders(), entry, self._switch_canceled)
