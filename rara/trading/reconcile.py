"""Reconciliation of one venue account: what rara's journal and ledger say against what the venue
says, at start-up, periodically and after every reconnect.

A pass reads the venue first (its open orders and recent trades per traded symbol, then its
balances) and only then the journal, so an order journaled meanwhile is never taken for someone
else's. If any query fails (`VenueError`) nothing is concluded: no fill is invented, no order is
closed, the report says ``ok=false`` and why (a failed query is never read as "flat"). Otherwise:

- the ledger catches up with the log (a fill journaled but never booked: a crash in between);
- every deployment with an order open in the journal, or with a fill at the venue the journal
  lacks, is synced through its `OrderManager` (the engine's, or one made here for a deployment
  not running in this process), which journals the missing fills (``<client id>:fill:<fill
  id>``) and state changes; the fills are booked;
- a fill of an order no journal has is a ``trading_external_fill`` (event id
  ``external-fill:<account>:<fill id>``), booked like a fill (`rara.ledger.fill_transaction`);
- an open order at the venue with a client id no journal has is a ``trading_external_order``
  (event id ``external-order:<account>:<venue order id>``) and sets an ``account`` lock
  (``external:<account>:<venue order id>``) once: the account is REDUCING until a person releases
  it (`rara lock release ID`, or `rara accounts ack-external NAME` for all of an account's at once);
- an account never funded in the log gets its opening balances from the venue (one
  ``trading_account_funded`` per currency, tx id ``open:<account>:<currency>``: the venue's
  total less what this pass booked, so the ledger then equals the venue); after that every
  currency where the ledger and the venue differ is a discrepancy (``ok=false``).

Every step writes deterministic ids, so a second pass books nothing. The report is journaled as
``trading_reconciled``; `startup_check(report)` refuses to let the engine trade on a failed one::

    rec = Reconciler(store, ledger, venue, account="acct", exchange="binance", mode="testnet",
                     symbols=["BTC/USDT"], managers=[mgr], lookback_ms=24 * 3_600_000,
                     clock=lambda: int(time.time() * 1000))
    startup_check(rec.run("startup"))      # Refused: do not trade
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import TypeVar

from rara.domain.events import (
    EventPayload,
    OrderState,
    ReconcileTrigger,
    TradingAccountFunded,
    TradingExternalFill,
    TradingExternalOrder,
    TradingMode,
    TradingOrderFilled,
    TradingOrderRejected,
    TradingOrderSubmitted,
    TradingOrderUpdated,
)
from rara.domain.money import ZERO, exact
from rara.domain.orders import OPEN_STATES, VenueFill, VenueOrder
from rara.errors import BadInput
from rara.events import Event, EventFilter, EventStore
from rara.ledger import Ledger, amount_text, catch_up
from rara.trading.control import set_lock
from rara.trading.journal import Deployment
from rara.trading.orders import OrderManager
from rara.trading.reconcile_report import (
    ReconcileReport,
    acknowledge_external,
    append_once,
    external_lock_id,
    startup_check,
)
from rara.trading.venue import Venue, VenueError

__all__ = [
    "ReconcileReport",
    "Reconciler",
    "acknowledge_external",
    "append_once",
    "external_lock_id",
    "startup_check",
]

SOURCE = "reconcile"
T = TypeVar("T")
_JOURNAL = EventFilter(
    types=[
        TradingOrderSubmitted,
        TradingOrderRejected,
        TradingOrderUpdated,
        TradingOrderFilled,
        TradingExternalFill,
        TradingAccountFunded,
    ]
)
# (run id, strategy id, symbol): one deployment, whose orders one manager keeps
DeploymentKey = tuple[str, str, str]


@dataclass
class _Journal:
    """The account's orders and fills as the log has them, read incrementally."""

    after_seq: int = 0
    owner: dict[str, DeploymentKey] = field(default_factory=dict)  # client id -> deployment
    deployments: dict[DeploymentKey, Deployment] = field(default_factory=dict)
    states: dict[str, OrderState] = field(default_factory=dict)
    fills: set[str] = field(default_factory=set)  # fill ids journaled (ours and external)
    funded: bool = False

    def open_orders(self) -> set[str]:
        return {cid for cid, state in self.states.items() if state in OPEN_STATES}

    def read(self, store: EventStore, account: str) -> None:
        for ev in store.iter_query(_JOURNAL, after_seq=self.after_seq):
            self.after_seq = ev.seq
            payload = ev.typed()
            if isinstance(payload, EventPayload):
                self._apply(ev, payload, account)

    def _apply(self, ev: Event, p: EventPayload, account: str) -> None:
        if getattr(p, "account", None) != account:
            return
        if isinstance(p, TradingAccountFunded):
            self.funded = True
        elif isinstance(p, TradingExternalFill):
            self.fills.add(p.fill_id)
        elif isinstance(p, TradingOrderSubmitted) and ev.correlation_id is not None:
            key = (ev.correlation_id, p.strategy_id, p.symbol)
            self.deployments.setdefault(
                key,
                Deployment(
                    run_id=ev.correlation_id,
                    strategy_id=p.strategy_id,
                    account=p.account,
                    exchange=p.exchange,
                    mode=p.mode,
                    symbol=p.symbol,
                ),
            )
            self.owner[p.client_order_id] = key
            self.states[p.client_order_id] = "submitted"
        elif isinstance(p, TradingOrderRejected):
            self.states[p.client_order_id] = "rejected"
        elif isinstance(p, TradingOrderUpdated) and p.client_order_id in self.states:
            self.states[p.client_order_id] = p.status
        elif isinstance(p, TradingOrderFilled):
            self.fills.add(p.fill_id)


class _QueryFailed(Exception):
    def __init__(self, what: str, exc: VenueError) -> None:
        super().__init__(f"{what}: {exc.code}: {exc.message}")


class Reconciler:
    """Reconciles one account at one venue. `managers` are the `OrderManager`s of the
    deployments trading on the account (restored): every one that runs, since their journals
    are written with deterministic ids and two writers of one deployment would collide (one
    process trades an account). The orders of a deployment that is not running are synced
    through a manager made for the pass, which never sends (`may_resend` says no). `clock`
    gives the venue's time in ms: trades are read from ``clock() - lookback_ms``. Not
    thread-safe: drive it from the engine's loop."""

    def __init__(
        self,
        store: EventStore,
        ledger: Ledger,
        venue: Venue,
        *,
        account: str,
        exchange: str,
        mode: TradingMode,
        symbols: Sequence[str],
        managers: Iterable[OrderManager] = (),
        lookback_ms: int,
        clock: Callable[[], int],
    ) -> None:
        if not symbols:
            raise BadInput("reconcile_no_symbols", f"account {account}: name the symbols traded")
        self.store, self.ledger, self.venue = store, ledger, venue
        self.account, self.exchange, self.mode = account, exchange, mode
        self.symbols = tuple(symbols)
        self.managers: dict[DeploymentKey, OrderManager] = {}
        for mgr in managers:
            self.add_manager(mgr)
        self.lookback_ms = lookback_ms
        self.clock = clock
        self._journal = _Journal()
        self._booked_seq = 0  # the log is booked into the ledger up to here

    def add_manager(self, mgr: OrderManager) -> None:
        d = mgr.deployment
        if d.account != self.account:
            raise BadInput(
                "reconcile_wrong_account",
                f"the manager of {d.run_id} trades {d.account}, not {self.account}",
            )
        self.managers[(d.run_id, d.strategy_id, d.symbol)] = mgr

    def run(self, trigger: ReconcileTrigger) -> ReconcileReport:
        """One pass (see the module doc); the report is journaled as ``trading_reconciled``."""
        since = self.clock() - self.lookback_ms
        base = {
            "account": self.account,
            "exchange": self.exchange,
            "mode": self.mode,
            "trigger": trigger,
        }
        try:
            venue_open = self._ask_orders()
            trades = self._ask_trades(since)
            balances = _query("balances", self.venue.balances)
        except _QueryFailed as exc:
            return self._finish(ReconcileReport(**base, ok=False, error=str(exc)))
        totals = {c: b.total for c, b in sorted(balances.items()) if b.total}
        j = self._journal
        j.read(self.store, self.account)
        self._catch_up()
        journal_open = len(j.open_orders())
        found = _Found()
        try:
            self._sync_ours(trades, since, found)
        except VenueError as exc:
            return self._finish(
                ReconcileReport(
                    **base,
                    ok=False,
                    open_orders_journal=journal_open,
                    open_orders_venue=len(venue_open),
                    fills_booked=found.booked,
                    orders_resolved=found.resolved,
                    balances=totals,
                    error=str(_QueryFailed("syncing our orders", exc)),
                )
            )
        self._external_fills(trades, found)
        external = self._external_orders(venue_open)
        funded = self._open_balances(totals) if not j.funded else {}
        ledger = self.ledger.balances(self.account)
        discrepancies = [
            f"{c}: ledger {amount_text(held)}, venue {amount_text(there)}"
            for c in sorted(set(ledger) | set(totals))
            if (held := ledger.get(c, ZERO)) != (there := totals.get(c, ZERO))
        ]
        return self._finish(
            ReconcileReport(
                **base,
                ok=not discrepancies,
                open_orders_journal=journal_open,
                open_orders_venue=len(venue_open),
                fills_booked=found.booked,
                orders_resolved=found.resolved,
                external_orders=external,
                external_fills=found.external,
                funded=funded,
                balances=totals,
                discrepancies=discrepancies,
            )
        )

    # ---- steps ----------------------------------------------------------------------------------

    def _ask_orders(self) -> list[VenueOrder]:
        out: list[VenueOrder] = []
        for symbol in self.symbols:
            out += _query(f"open orders of {symbol}", partial(self.venue.open_orders, symbol))
        return out

    def _ask_trades(self, since: int) -> list[VenueFill]:
        out: list[VenueFill] = []
        for symbol in self.symbols:
            out += _query(f"trades of {symbol}", partial(self.venue.my_trades, since, symbol))
        return out

    def _catch_up(self) -> None:
        """Book what the log holds and the ledger lacks (a crash between the two)."""
        done = catch_up(self.ledger, self.store, after_seq=self._booked_seq)
        self._booked_seq = done.last_event_seq

    def _sync_ours(self, trades: Sequence[VenueFill], since: int, found: _Found) -> None:
        j = self._journal
        due = {j.owner[cid] for cid in j.open_orders() if cid in j.owner}
        due |= {
            j.owner[f.client_order_id]
            for f in trades
            if f.client_order_id in j.owner and f.fill_id not in j.fills
        }
        for key in sorted(due):
            mgr = self.managers.get(key)
            if mgr is None:
                mgr = OrderManager(
                    self.store, self.venue, j.deployments[key], may_resend=lambda _o: False
                )
                mgr.restore()
            before = {o.client_order_id: o.state for o in mgr.orders()}
            fills = mgr.sync(since_ms=since, resend=False)  # observe: never send
            for fill in fills:
                found.booked += self.ledger.book_fill(fill)
                j.fills.add(fill.fill_id)
            for o in mgr.orders():
                j.states[o.client_order_id] = o.state
                found.resolved += before.get(o.client_order_id) != o.state

    def _external_fills(self, trades: Sequence[VenueFill], found: _Found) -> None:
        j = self._journal
        for f in trades:
            if f.client_order_id in j.owner or f.fill_id in j.fills:
                continue
            event = TradingExternalFill(
                account=self.account,
                exchange=self.exchange,
                symbol=f.symbol,
                fill_id=f.fill_id,
                venue_order_id=f.venue_order_id,
                client_order_id=f.client_order_id,
                side=f.side,
                quantity=f.quantity,
                price=f.price,
                fee=f.fee,
                fee_currency=f.fee_currency,
                filled_ms=f.filled_ms,
            )
            append_once(self.store, event, f"external-fill:{self.account}:{f.fill_id}", SOURCE)
            found.booked += self.ledger.book_fill(event)
            found.external.append(f.fill_id)
            j.fills.add(f.fill_id)

    def _external_orders(self, venue_open: Sequence[VenueOrder]) -> list[str]:
        """Venue order ids of the open orders no journal has; each locks the account once."""
        out = []
        for o in venue_open:
            if o.client_order_id in self._journal.owner:
                continue
            vid = o.venue_order_id or o.client_order_id
            out.append(vid)
            lock_id = external_lock_id(self.account, vid)
            event = TradingExternalOrder(
                account=self.account,
                exchange=self.exchange,
                symbol=o.symbol,
                venue_order_id=vid,
                client_order_id=o.client_order_id,
                side=o.side,
                order_type=o.order_type,
                quantity=o.quantity,
                price=o.limit_price or o.trigger_price,
                status=o.state,
                lock_id=lock_id,
            )
            if append_once(self.store, event, f"external-order:{self.account}:{vid}", SOURCE):
                set_lock(
                    self.store,
                    "account",
                    self.account,
                    until_ms=None,
                    reason=f"an order rara did not send is open at {self.exchange}: {vid} "
                    f"({o.side} {o.symbol})",
                    by="reconcile",
                    lock_id=lock_id,
                    source=SOURCE,
                )
        return out

    def _open_balances(self, totals: Mapping[str, Decimal]) -> dict[str, Decimal]:
        """Fund a never-funded account with the venue's balances (less what this pass booked)."""
        ledger = self.ledger.balances(self.account)
        funded: dict[str, Decimal] = {}
        for currency in sorted(set(totals) | set(ledger)):
            with exact():
                amount = totals.get(currency, ZERO) - ledger.get(currency, ZERO)
            if not amount:
                continue
            event = TradingAccountFunded(
                account=self.account,
                currency=currency,
                amount=amount,
                tx_id=f"open:{self.account}:{currency}",
                mode=self.mode,
            )
            append_once(self.store, event, event.tx_id, SOURCE)
            self.ledger.book_funding(event)
            funded[currency] = amount
        self._journal.funded = True
        return funded

    def _finish(self, report: ReconcileReport) -> ReconcileReport:
        self.store.append(report.event(), source=SOURCE)
        return report


@dataclass
class _Found:
    booked: int = 0
    resolved: int = 0
    external: list[str] = field(default_factory=list)


def _query(what: str, ask: Callable[[], T]) -> T:
    try:
        return ask()
    except VenueError as exc:
        raise _QueryFailed(what, exc) from exc
