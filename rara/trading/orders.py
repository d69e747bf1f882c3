"""`OrderManager`: one deployment's orders, from intent to a final state, journaled before sent.

The engine hands it intents the risk gate has judged. An allowed one is journaled as a
``trading_order_submitted`` event (with its deterministic `client_order_id`) BEFORE the venue
hears of it, so whatever happens next a restart finds it in the journal and never sends it again
under another id. The venue's answer moves it along the state machine of `rara.domain.orders`
(`advance` refuses any other move): refused -> ``rejected``; no answer (`VenueUnavailable`) ->
``unknown``, resolved later by looking the client id up (`fetch_order`), and sent again with the
same id only if the venue says it never saw it. `sync()` journals each new fill once (by fill id,
across restarts too) and each state change, and returns the new fills for the ledger.

Idempotent across restarts: an intent whose (signal bar, reason, side) this run has journaled
already gets the order it made, not a second one. `restore()` rebuilds everything from the
journal (`rara.trading.journal`) and resolves every order whose outcome is not known.

Typical use by the engine, once per closed bar::

    mgr = OrderManager(store, venue, deployment); mgr.restore()
    fills = mgr.sync()                              # book these in the ledger
    seq = mgr.next_seq()
    intent = OrderIntent(seq=seq, request=OrderRequest(client_order_id=mgr.client_order_id(seq),
                         ...), ...)
    if denial: mgr.reject(intent, code, reason, context)   else: mgr.submit(intent)

Not thread-safe: one manager per deployment, driven by one thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

from rara.domain.events import EventPayload, TradingOrderFilled
from rara.domain.orders import (
    TERMINAL_STATES,
    OrderIntent,
    VenueOrder,
    advance,
    client_order_id,
)
from rara.errors import BadInput
from rara.events import Event, EventDraft, EventFilter, EventStore
from rara.trading.journal import (
    ORDER_EVENTS,
    Deployment,
    IntentKey,
    ManagedOrder,
    filled_event,
    rejected_event,
    replay,
    submitted_event,
    unknown_event,
    updated_event,
)
from rara.trading.venue import Venue, VenueRejected, VenueUnavailable

SOURCE = "trading"
# How far before an order's journal time its trades are looked for (the venue's clock may lag).
CLOCK_SKEW_MS = 60_000


class OrderManager:
    """The orders of one `Deployment`, journaled in `journal` and sent to `venue`."""

    def __init__(
        self,
        journal: EventStore,
        venue: Venue,
        deployment: Deployment,
        may_resend: Callable[[ManagedOrder], bool] | None = None,
        *,
        unknown_timeout_ms: int = 0,
        stale_entry_ms: int | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        """`may_resend(order)` is asked before an order journaled earlier (before a crash or a
        lost answer) that the venue never received is sent: no, and it is canceled unsent (a
        kill switch that landed meanwhile).

        `unknown_timeout_ms` (0 for the paper venue, which answers at once and never loses an
        order): how long an order the venue does not show is waited for, by `clock` (UTC ms),
        before it is taken as never received. A live exchange may list an order it accepted
        only after a while, so until then the order stays ``submitted``/``unknown``, and its
        trades are looked for too. Past the wait it is sent again under the SAME client id,
        except an entry journaled more than `stale_entry_ms` ago (its signal is stale: it is
        declared rejected, ``never_reached_venue``) and a limit order (likewise)."""
        self.journal = journal
        self.venue = venue
        self.deployment = deployment
        self.may_resend = may_resend
        self.unknown_timeout_ms = unknown_timeout_ms
        self.stale_entry_ms = stale_entry_ms
        self.clock = clock
        self._sent_ms: dict[str, int] = {}  # client id -> when its submitted event was journaled
        self._orders: dict[str, ManagedOrder] = {}
        self._open: set[str] = set()  # client ids of the open orders: a sync looks at these only
        self._unfilled: set[str] = set()  # closed orders whose fills the journal has not all seen
        self._by_key: dict[IntentKey, str] = {}
        self._by_seq: dict[int, str] = {}
        self._updates: dict[str, int] = {}
        self._seen_fills: set[str] = set()
        self._last_fill_ms = 0
        self._next_seq = 0
        self._released: set[int] = set()
        self.changes = 0  # how many times an order was stored: a cheap "has anything changed"

    # ---- intents --------------------------------------------------------------------------------

    def client_order_id(self, seq: int) -> str:
        """The client order id of intent `seq` of this deployment."""
        d = self.deployment
        return client_order_id(d.run_id, d.strategy_id, seq)

    def next_seq(self) -> int:
        """A fresh intent sequence number. A number handed out but never journaled (its intent
        turned out to be one this run already had) is handed out again, so a restarted run
        numbers its new intents as an uninterrupted one would."""
        if self._released:
            seq = min(self._released)
            self._released.discard(seq)
            return seq
        seq = self._next_seq
        self._next_seq += 1
        return seq

    def find(self, intent: OrderIntent) -> ManagedOrder | None:
        """The order this run already made for `intent` (same signal bar, reason and side, or
        the same sequence number), if any."""
        key = _key(intent)
        cid = self._by_key.get(key) if key is not None else None
        cid = cid or self._by_seq.get(intent.seq)
        return None if cid is None else self._orders[cid]

    def reject(
        self,
        intent: OrderIntent,
        code: str,
        reason: str,
        context: Mapping[str, str],
        by: Literal["risk_gate", "market_rules"] = "risk_gate",
    ) -> ManagedOrder:
        """Journal the denial of `intent` before sending (``trading_order_rejected``, by the
        risk gate with the guard's numbers in `context`, or by the market's rules with the
        rule's); nothing is sent."""
        found = self._known(intent)
        if found is not None:
            return found
        order = ManagedOrder.of_intent(intent, advance("intent", "rejected"))
        order = order.but({"reject_code": code, "detail": reason})
        event = rejected_event(self.deployment, order, by, code, reason, dict(context))
        self._journal([(event, f"{order.client_order_id}:rejected")])
        self._remember(order)
        return order

    def submit(
        self, intent: OrderIntent, may_send: Callable[[int], bool] | None = None
    ) -> ManagedOrder:
        """Journal `intent` as submitted, then send it. The venue's refusal makes the order
        ``rejected``, no answer makes it ``unknown``. An intent this run already has returns
        that order (sent now with the same client id if the journal has it but the venue
        does not).

        `may_send(seq)` is asked with the journal seq of the submitted event just before the
        send: a kill switch that landed between the risk gate and the journal says no, and the
        order is canceled without the venue ever hearing of it."""
        found = self._known(intent)
        if found is not None:
            if found.state in ("submitted", "unknown"):
                return self._resolve(found)
            return found
        order = ManagedOrder.of_intent(intent, advance("intent", "submitted"))
        journaled = self._journal(
            [(submitted_event(self.deployment, intent), f"{order.client_order_id}:submitted")]
        )
        self._sent_ms[order.client_order_id] = _event_ms(journaled[0])
        self._remember(order)
        if may_send is not None and not may_send(journaled[0].seq):
            return self._apply(order, _local(order, "canceled", "not sent: trading halted"))
        return self._send(order)

    # ---- cancels --------------------------------------------------------------------------------

    def cancel(self, client_order_id: str) -> ManagedOrder:
        """Cancel one of this deployment's orders (never gated); a closed order is returned as
        it is. An order the venue never received is canceled here."""
        order = self._orders.get(client_order_id)
        if order is None:
            raise BadInput(
                "unknown_order",
                f"no order {client_order_id!r} in deployment {self.deployment.run_id}",
                "`rara orders` lists the deployment's orders",
            )
        if order.state in TERMINAL_STATES:
            return order
        try:
            vo = self.venue.cancel(client_order_id, order.symbol)
        except VenueRejected as exc:
            if exc.code != "unknown_order" or order.state not in ("submitted", "unknown"):
                raise
            vo = _local(order, "canceled", "canceled: the venue never received it")
        return self._apply(order, vo)

    def cancel_all(self) -> list[ManagedOrder]:
        """Cancel every open order; the first venue outage is raised after trying them all."""
        out: list[ManagedOrder] = []
        failed: VenueUnavailable | None = None
        for order in self.open_orders():
            try:
                out.append(self.cancel(order.client_order_id))
            except VenueUnavailable as exc:
                failed = failed or exc
        if failed is not None:
            raise failed
        return out

    # ---- the venue's news -----------------------------------------------------------------------

    def sync(self, since_ms: int | None = None, *, resend: bool = True) -> list[TradingOrderFilled]:
        """Journal the venue's new fills of our orders (each fill id once) and every change of
        state of our open orders; return the new fills (the engine books them). Orders whose
        outcome is unknown are looked up first. All or nothing: a venue answer the state
        machine refuses (`IllegalTransition`) journals nothing. `since_ms` reads the trades
        from that far back too (reconciliation: a fill older than the last one journaled).
        ``resend=False`` only looks (reconciliation and the dead man's switch observe; an
        order the venue never received is sent by the engine's own sync, not theirs)."""
        if since_ms is None and not self._open and not self._unfilled:
            return []  # nothing at the venue can change or fill
        for order in self._open_in_order():
            if order.state in ("submitted", "unknown"):
                self._resolve(order, resend=resend)
        d = self.deployment
        changed: dict[str, ManagedOrder] = {}
        drafts: list[tuple[EventPayload, str]] = []
        fills: list[TradingOrderFilled] = []
        last_ms = self._last_fill_ms
        since = self._last_fill_ms if since_ms is None else min(since_ms, self._last_fill_ms)
        for f in self.venue.my_trades(since, d.symbol):
            cid = f.client_order_id
            ours = changed.get(cid) or self._orders.get(cid)
            if ours is None or f.fill_id in self._seen_fills:
                continue
            event = filled_event(d, ours, f)
            changed[cid] = ours.but(
                {
                    "filled_quantity": event.cumulative_quantity,
                    "venue_order_id": f.venue_order_id or ours.venue_order_id,
                }
            )
            drafts.append((event, f"{cid}:fill:{f.fill_id}"))
            fills.append(event)
            last_ms = max(last_ms, f.filled_ms)
        on_venue = {o.client_order_id: o for o in self.venue.open_orders(d.symbol)}
        updates: dict[str, int] = {}
        for known in self._open_in_order():
            cid = known.client_order_id
            order = changed.get(cid, known)
            if order.state in ("submitted", "unknown"):
                continue
            vo = on_venue.get(cid) or self.venue.fetch_order(cid, d.symbol)
            if vo is None:
                continue
            moved = self._moved(order, vo)
            if moved is not None:
                changed[cid] = moved
                updates[cid] = n = self._updates.get(cid, 0) + 1
                drafts.append((updated_event(d, order, vo), f"{cid}:u{n}"))
        self._journal(drafts)
        self._updates.update(updates)
        for order in changed.values():
            self._store(order)
        self._seen_fills.update(f.fill_id for f in fills)
        self._last_fill_ms = last_ms
        return fills

    def restore(self) -> None:
        """Rebuild orders, states, the intent sequence and the fills seen from this run's
        journal, then resolve every order whose outcome is not known (``submitted`` or
        ``unknown``) by looking it up at the venue; call `sync()` next for the fills."""
        d = self.deployment
        where = EventFilter(types=ORDER_EVENTS, correlation_id=d.run_id, strategy_id=d.strategy_id)
        st = replay(d, self.journal.iter_query(where))
        self._orders, self._updates = st.orders, st.updates
        self._sent_ms = dict(st.submitted_ms)
        self._open, self._unfilled = set(), set()
        for order in st.orders.values():
            self._store(order)
        self._seen_fills, self._last_fill_ms = st.seen_fills, st.last_fill_ms
        self._next_seq, self._released = st.next_seq, set()
        self._by_key = {o.key: cid for cid, o in st.orders.items() if o.key is not None}
        self._by_seq = {o.seq: cid for cid, o in st.orders.items()}
        for order in self._open_in_order():
            if order.state in ("submitted", "unknown"):
                self._resolve(order)

    # ---- views ----------------------------------------------------------------------------------

    def orders(self) -> list[ManagedOrder]:
        """Every order of the deployment, in intent order."""
        return sorted(self._orders.values(), key=lambda o: o.seq)

    def open_orders(self) -> list[ManagedOrder]:
        return self._open_in_order()

    def order(self, client_order_id: str) -> ManagedOrder | None:
        return self._orders.get(client_order_id)

    # ---- internals ------------------------------------------------------------------------------

    def _known(self, intent: OrderIntent) -> ManagedOrder | None:
        """The order `intent` already made, or None after checking that it can make one."""
        d = self.deployment
        if (intent.strategy_id, intent.correlation_id) != (d.strategy_id, d.run_id):
            raise BadInput(
                "intent_mismatch",
                f"intent of {intent.strategy_id}/{intent.correlation_id} sent to the manager "
                f"of {d.strategy_id}/{d.run_id}",
            )
        if intent.request.symbol != d.symbol:
            raise BadInput("intent_mismatch", f"intent for {intent.request.symbol}, not {d.symbol}")
        if intent.request.client_order_id != self.client_order_id(intent.seq):
            raise BadInput(
                "intent_mismatch",
                f"intent {intent.seq} must carry client order id "
                f"{self.client_order_id(intent.seq)}",
                "build the request with OrderManager.client_order_id(seq)",
            )
        key = _key(intent)
        cid = self._by_key.get(key) if key is not None else None
        if cid is not None:
            if intent.seq not in self._by_seq:
                self._released.add(intent.seq)  # its number was never journaled: reuse it
            return self._orders[cid]
        if intent.seq in self._by_seq:
            raise BadInput(
                "intent_seq_taken",
                f"intent seq {intent.seq} is already order {self._by_seq[intent.seq]}",
                "take a fresh one from OrderManager.next_seq()",
            )
        return None

    def _store(self, order: ManagedOrder) -> None:
        cid = order.client_order_id
        self._orders[cid] = order
        self.changes += 1
        if order.is_open:
            self._open.add(cid)
        else:
            self._open.discard(cid)
        if order.venue_filled_quantity > order.filled_quantity:
            self._unfilled.add(cid)
        else:
            self._unfilled.discard(cid)

    def _open_in_order(self) -> list[ManagedOrder]:
        """The open orders by intent seq (a fixed order keeps the journal deterministic)."""
        return sorted((self._orders[c] for c in self._open), key=lambda o: o.seq)

    def _remember(self, order: ManagedOrder) -> None:
        self._store(order)
        self._by_seq[order.seq] = order.client_order_id
        if order.key is not None:
            self._by_key[order.key] = order.client_order_id
        self._next_seq = max(self._next_seq, order.seq + 1)
        self._released.discard(order.seq)

    def _journal(self, events: list[tuple[EventPayload, str]]) -> list[Event]:
        d = self.deployment
        return self.journal.append_many(
            EventDraft(
                payload=p,
                source=SOURCE,
                correlation_id=d.run_id,
                strategy_id=d.strategy_id,
                event_id=eid,
            )
            for p, eid in events
        )

    def _send(self, order: ManagedOrder) -> ManagedOrder:
        """Send a journaled order; record what the venue answered (or that it did not)."""
        cid = order.client_order_id
        try:
            vo = self.venue.submit(order.request())
        except VenueRejected as exc:
            rejected = order.but(
                {
                    "state": advance(order.state, "rejected"),
                    "reject_code": exc.code,
                    "detail": exc.message,
                }
            )
            event = rejected_event(self.deployment, rejected, "venue", exc.code, exc.message, {})
            self._journal([(event, f"{cid}:rejected")])
            self._store(rejected)
            return rejected
        except VenueUnavailable as exc:
            if order.state == "unknown":
                return order
            unknown = order.but({"state": advance(order.state, "unknown")})
            n = self._updates.get(cid, 0) + 1
            self._journal([(unknown_event(self.deployment, unknown, exc.message), f"{cid}:u{n}")])
            self._updates[cid] = n
            self._store(unknown)
            return unknown
        return self._apply(order, vo)

    def _resolve(self, order: ManagedOrder, resend: bool = True) -> ManagedOrder:
        """Look up an order whose outcome is not known; send it (same id) if the venue has
        never seen it (and `resend`); leave it as it is while the venue does not answer."""
        try:
            vo = self.venue.fetch_order(order.client_order_id, order.symbol)
            if vo is None and self.unknown_timeout_ms and self._may_exist(order):
                return order  # not listed yet, or already trading: wait, never resend
        except VenueUnavailable:
            return order
        if vo is None:
            if not resend:
                return order
            if self.may_resend is not None and not self.may_resend(order):
                return self._apply(order, _local(order, "canceled", "not sent: trading halted"))
            lost = self._lost_for_good(order)
            if lost is not None:
                return self._declare_rejected(order, lost)
            return self._send(order)
        return self._apply(order, vo)

    def _may_exist(self, order: ManagedOrder) -> bool:
        """Whether an order the venue does not list may still be there: its trades show it, or
        it was sent less than `unknown_timeout_ms` ago (VenueUnavailable propagates)."""
        cid = order.client_order_id
        sent = self._sent_ms.get(cid, 0)
        since = max(0, sent - CLOCK_SKEW_MS)
        if any(f.client_order_id == cid for f in self.venue.my_trades(since, order.symbol)):
            return True
        return self._now() - sent < self.unknown_timeout_ms

    def _lost_for_good(self, order: ManagedOrder) -> str | None:
        """Why an order the venue never received must not be sent now, or None to send it."""
        if not self.unknown_timeout_ms:
            return None  # a venue that never loses an order (paper): send what it never saw
        if order.order_type == "limit":
            return "a limit order the venue never received is not sent late"
        age = self._now() - self._sent_ms.get(order.client_order_id, 0)
        if (
            order.reason == "entry"
            and self.stale_entry_ms is not None
            and age > self.stale_entry_ms
        ):
            return f"an entry the venue never received, {age // 1000} s after its signal"
        return None

    def _declare_rejected(self, order: ManagedOrder, why: str) -> ManagedOrder:
        cid = order.client_order_id
        rejected = order.but(
            {
                "state": advance(order.state, "rejected"),
                "reject_code": "never_reached_venue",
                "detail": why,
            }
        )
        event = rejected_event(self.deployment, rejected, "venue", "never_reached_venue", why, {})
        self._journal([(event, f"{cid}:rejected")])
        self._store(rejected)
        return rejected

    def _now(self) -> int:
        return self.clock() if self.clock is not None else 0

    def _apply(self, order: ManagedOrder, vo: VenueOrder) -> ManagedOrder:
        """Journal the venue's state of `order` if it changed; the order as it now is."""
        moved = self._moved(order, vo)
        if moved is None:
            return order
        cid = order.client_order_id
        n = self._updates.get(cid, 0) + 1
        self._journal([(updated_event(self.deployment, order, vo), f"{cid}:u{n}")])
        self._updates[cid] = n
        self._store(moved)
        return moved

    @staticmethod
    def _moved(order: ManagedOrder, vo: VenueOrder) -> ManagedOrder | None:
        """`order` in the venue's state `vo` (IllegalTransition if the state machine has no
        such move), or None if nothing changed."""
        if vo.state == order.state and vo.filled_quantity == order.venue_filled_quantity:
            return None
        state = vo.state if vo.state == order.state else advance(order.state, vo.state)
        return order.but(
            {
                "state": state,
                "venue_order_id": vo.venue_order_id or order.venue_order_id,
                "venue_filled_quantity": vo.filled_quantity,
                "average_price": vo.average_price,
                "detail": vo.detail,
            }
        )


def _event_ms(event: Event) -> int:
    return int(event.timestamp.timestamp() * 1000)


def _key(intent: OrderIntent) -> IntentKey | None:
    if intent.signal_bar_ms is None:
        return None
    return (intent.signal_bar_ms, intent.reason, intent.request.side)


def _local(order: ManagedOrder, state: str, detail: str) -> VenueOrder:
    """A venue-shaped record of a state decided here (an order the venue never had)."""
    return VenueOrder(
        client_order_id=order.client_order_id,
        venue_order_id=order.venue_order_id,
        symbol=order.symbol,
        side=order.side,
        order_type=order.order_type,
        state=state,
        quantity=order.quantity,
        filled_quantity=order.filled_quantity,
        average_price=order.average_price,
        limit_price=order.limit_price,
        trigger_price=order.trigger_price,
        updated_ms=0,
        detail=detail,
    )
