"""The order journal: what the `OrderManager` (`rara.trading.orders`) writes to the event log for
each order, and how it reads its orders back after a restart.

A deployment (`Deployment`: run, strategy, account, exchange, mode, symbol) journals its orders as
``trading_order_*`` events whose envelope carries the strategy's id and, as correlation id, the
run's. Event ids are deterministic, so a replay with the same inputs writes the same chain and a
restarted manager never journals one thing twice: ``<client id>:submitted``,
``<client id>:rejected``, ``<client id>:u<n>`` (the order's n-th ``trading_order_updated``) and
``<client id>:fill:<fill id>``.

A risk-gate rejection has no ``trading_order_submitted`` event before it; the intent it refused is
kept in its ``context`` under ``intent.*`` keys (sequence, reason, signal bar, and the request as
JSON), so a restart knows that intent was already decided.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rara.domain.events import (
    ExactDecimal,
    IntentReason,
    OrderState,
    OrderType,
    Side,
    TradingMode,
    TradingOrderFilled,
    TradingOrderRejected,
    TradingOrderSubmitted,
    TradingOrderUpdated,
)
from rara.domain.money import exact
from rara.domain.orders import (
    OPEN_STATES,
    OrderIntent,
    OrderRequest,
    VenueFill,
    VenueOrder,
)
from rara.events import Event

ORDER_EVENTS = (
    TradingOrderSubmitted,
    TradingOrderFilled,
    TradingOrderRejected,
    TradingOrderUpdated,
)
# Keys of a risk-gate rejection's context that hold the refused intent.
INTENT_SEQ, INTENT_REASON, INTENT_BAR, INTENT_REQUEST = (
    "intent.seq",
    "intent.reason",
    "intent.signal_bar_ms",
    "intent.request",
)
# (signal bar, reason, side): an intent the engine re-derives after a restart has the same key.
IntentKey = tuple[int, str, str]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Deployment(_Model):
    """One strategy deployed on one symbol of one account: whose orders a manager keeps."""

    run_id: str = Field(min_length=1, description="the deployment's id (the correlation id)")
    strategy_id: str = Field(min_length=1)
    account: str = Field(min_length=1, description="the ledger account, e.g. paper:<run id>")
    exchange: str = Field(min_length=1)
    mode: TradingMode
    symbol: str = Field(min_length=1)


class ManagedOrder(_Model):
    """One order as the manager knows it: the intent that made it and its state."""

    seq: int
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    quantity: ExactDecimal | None = None
    cost: ExactDecimal | None = None
    limit_price: ExactDecimal | None = None
    trigger_price: ExactDecimal | None = None
    reduce_only: bool = False
    reason: IntentReason
    signal_bar_ms: int | None
    # an entry's protective orders, fractions of its fill (placed by the engine once it fills)
    stop_loss_fraction: float | None = None
    take_profit_fraction: float | None = None
    state: OrderState
    venue_order_id: str | None = None
    filled_quantity: ExactDecimal = Decimal(0)
    venue_filled_quantity: ExactDecimal = Field(
        Decimal(0), description="filled, as the venue last reported"
    )
    average_price: ExactDecimal | None = Field(None, description="as the venue last reported")
    reject_code: str | None = None
    detail: str = ""

    def but(self, changes: Mapping[str, object]) -> ManagedOrder:
        """This order with `changes`, validated (a pydantic copy with updates would skip that)."""
        return ManagedOrder.model_validate({**self.model_dump(), **changes})

    @property
    def key(self) -> IntentKey | None:
        if self.signal_bar_ms is None:
            return None
        return (self.signal_bar_ms, self.reason, self.side)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def request(self) -> OrderRequest:
        """What is (or was) sent to the venue for this order."""
        return OrderRequest(symbol=self.symbol, **{f: getattr(self, f) for f in REQUEST_FIELDS})

    @classmethod
    def of_intent(cls, intent: OrderIntent, state: OrderState) -> ManagedOrder:
        return cls(
            seq=intent.seq, symbol=intent.request.symbol, state=state, **intent_fields(intent)
        )


# What an order is, as the intent, the journal's submitted event and the manager all name it.
REQUEST_FIELDS = (
    "client_order_id",
    "side",
    "order_type",
    "quantity",
    "cost",
    "limit_price",
    "trigger_price",
    "reduce_only",
)
INTENT_FIELDS = ("reason", "signal_bar_ms", "stop_loss_fraction", "take_profit_fraction")


def intent_fields(intent: OrderIntent) -> dict[str, Any]:
    r = intent.request
    return {
        **{f: getattr(r, f) for f in REQUEST_FIELDS},
        **{f: getattr(intent, f) for f in INTENT_FIELDS},
    }


def _names(d: Deployment) -> dict[str, object]:
    return {
        "strategy_id": d.strategy_id,
        "account": d.account,
        "exchange": d.exchange,
        "mode": d.mode,
        "symbol": d.symbol,
    }


def submitted_event(d: Deployment, intent: OrderIntent) -> TradingOrderSubmitted:
    return TradingOrderSubmitted(**_names(d), intent_seq=intent.seq, **intent_fields(intent))


def rejected_event(
    d: Deployment,
    order: ManagedOrder,
    by: str,
    code: str,
    reason: str,
    context: dict[str, str],
) -> TradingOrderRejected:
    if by != "venue":  # refused before sending: no submitted event, so keep the intent here
        context = {
            **context,
            INTENT_SEQ: str(order.seq),
            INTENT_REASON: order.reason,
            INTENT_BAR: "" if order.signal_bar_ms is None else str(order.signal_bar_ms),
            INTENT_REQUEST: order.request().model_dump_json(),
        }
    return TradingOrderRejected(
        client_order_id=order.client_order_id,
        **_names(d),
        side=order.side,
        quantity=order.quantity,
        rejected_by=by,
        reason_code=code,
        reason=reason,
        context=context,
    )


def updated_event(d: Deployment, order: ManagedOrder, vo: VenueOrder) -> TradingOrderUpdated:
    remaining = None
    if vo.quantity is not None:
        with exact():
            remaining = vo.quantity - vo.filled_quantity
    return TradingOrderUpdated(
        client_order_id=order.client_order_id,
        **_names(d),
        venue_order_id=vo.venue_order_id,
        status=vo.state,
        filled_quantity=vo.filled_quantity,
        remaining_quantity=remaining,
        average_fill_price=vo.average_price,
        detail=vo.detail,
    )


def unknown_event(d: Deployment, order: ManagedOrder, why: str) -> TradingOrderUpdated:
    """The send got no answer: the order's state at the venue is unknown until looked up."""
    return TradingOrderUpdated(
        client_order_id=order.client_order_id,
        **_names(d),
        venue_order_id=order.venue_order_id,
        status="unknown",
        filled_quantity=order.filled_quantity,
        remaining_quantity=None,
        average_fill_price=order.average_price,
        detail=why,
    )


def filled_event(d: Deployment, order: ManagedOrder, f: VenueFill) -> TradingOrderFilled:
    with exact():
        cumulative = order.filled_quantity + f.quantity
    return TradingOrderFilled(
        client_order_id=order.client_order_id,
        **_names(d),
        venue_order_id=f.venue_order_id,
        fill_id=f.fill_id,
        side=f.side,
        quantity=f.quantity,
        price=f.price,
        fee=f.fee,
        fee_currency=f.fee_currency,
        cumulative_quantity=cumulative,
        filled_ms=f.filled_ms,
        reason=f.reason or order.reason,
        detail=f.detail,
    )


@dataclass
class JournalState:
    """A deployment's orders as its journal leaves them."""

    orders: dict[str, ManagedOrder] = field(default_factory=dict)
    updates: dict[str, int] = field(default_factory=dict)  # client id -> updates journaled
    seen_fills: set[str] = field(default_factory=set)
    last_fill_ms: int = 0
    submitted_ms: dict[str, int] = field(default_factory=dict)  # client id -> journal time

    @property
    def next_seq(self) -> int:
        return 1 + max((o.seq for o in self.orders.values()), default=-1)


def replay(d: Deployment, events: Iterable[Event]) -> JournalState:
    """Fold the deployment's order events (in log order) into its orders."""
    st = JournalState()
    for ev in events:
        p = ev.typed()
        if not isinstance(p, ORDER_EVENTS) or (p.account, p.symbol) != (d.account, d.symbol):
            continue
        cid = p.client_order_id
        if isinstance(p, TradingOrderSubmitted):
            fields = {f: getattr(p, f) for f in REQUEST_FIELDS + INTENT_FIELDS}
            st.orders[cid] = ManagedOrder(
                seq=p.intent_seq, symbol=p.symbol, state="submitted", **fields
            )
            st.submitted_ms[cid] = int(ev.timestamp.timestamp() * 1000)
        elif isinstance(p, TradingOrderRejected):
            old = st.orders.get(cid)
            if old is None:  # refused by the risk gate: the intent is in the context
                bar = p.context.get(INTENT_BAR, "")
                r = OrderRequest.model_validate_json(p.context[INTENT_REQUEST])
                st.orders[cid] = ManagedOrder(
                    seq=int(p.context[INTENT_SEQ]),
                    symbol=r.symbol,
                    **{f: getattr(r, f) for f in REQUEST_FIELDS},
                    reason=p.context[INTENT_REASON],
                    signal_bar_ms=int(bar) if bar else None,
                    state="rejected",
                    reject_code=p.reason_code,
                    detail=p.reason,
                )
            else:
                st.orders[cid] = old.but(
                    {"state": "rejected", "reject_code": p.reason_code, "detail": p.reason}
                )
        elif isinstance(p, TradingOrderUpdated) and cid in st.orders:
            st.updates[cid] = st.updates.get(cid, 0) + 1
            st.orders[cid] = st.orders[cid].but(
                {
                    "state": p.status,
                    "venue_order_id": p.venue_order_id,
                    "venue_filled_quantity": p.filled_quantity,
                    "average_price": p.average_fill_price,
                    "detail": p.detail,
                }
            )
        elif isinstance(p, TradingOrderFilled) and cid in st.orders:
            st.seen_fills.add(p.fill_id)
            st.last_fill_ms = max(st.last_fill_ms, p.filled_ms)
            st.orders[cid] = st.orders[cid].but({"filled_quantity": p.cumulative_quantity})
    return st
