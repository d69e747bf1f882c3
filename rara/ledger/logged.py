"""The transactions the event log calls for: one per ``trading_account_funded``,
``trading_order_filled`` and ``trading_external_fill`` event, in log order. Rebuilding the ledger
books them; verifying it against the log compares them with what is booked."""

from __future__ import annotations

from collections.abc import Iterator

from rara.domain.events import TradingAccountFunded, TradingExternalFill, TradingOrderFilled
from rara.errors import RaraError
from rara.events import EventFilter, EventStore
from rara.ledger.chart import fill_transaction, funding_transaction
from rara.ledger.model import LedgerTransaction

BOOKED_TYPES = EventFilter(types=[TradingAccountFunded, TradingOrderFilled, TradingExternalFill])


def logged_transactions(
    store: EventStore, *, after_seq: int = 0
) -> Iterator[tuple[int, LedgerTransaction | RaraError]]:
    """(event seq, its transaction) for every funding and fill logged after `after_seq`; the
    error instead when an event cannot be booked (a fill no venue makes, a payload that does not
    fit its model)."""
    for event in store.iter_query(BOOKED_TYPES, after_seq=after_seq):
        try:
            payload = event.typed()
            if isinstance(payload, TradingOrderFilled | TradingExternalFill):
                yield event.seq, fill_transaction(payload)
            elif isinstance(payload, TradingAccountFunded):
                yield event.seq, funding_transaction(payload)
        except RaraError as exc:
            yield event.seq, exc
