"""Fills and fundings for the ledger tests, built as the paper engine's events are."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from rara.domain.events import EventPayload, Side, TradingAccountFunded, TradingOrderFilled
from rara.events import EventStore
from rara.ledger import Ledger

ACCOUNT = "paper:run-1"
SYMBOL = "BTC/USDT"


def fill(
    fill_id: str,
    side: Side,
    quantity: Decimal | str,
    price: Decimal | str,
    fee: Decimal | str = "0",
    fee_currency: str = "USDT",
    *,
    account: str = ACCOUNT,
    symbol: str = SYMBOL,
) -> TradingOrderFilled:
    return TradingOrderFilled(
        client_order_id=f"coid-{fill_id}",
        strategy_id="sma_cross",
        account=account,
        exchange="binance",
        mode="paper",
        symbol=symbol,
        venue_order_id=f"v-{fill_id}",
        fill_id=fill_id,
        side=side,
        quantity=quantity,
        price=price,
        fee=fee,
        fee_currency=fee_currency,
        cumulative_quantity=quantity,
        filled_ms=1_700_000_000_000,
    )


def funding(
    amount: Decimal | str, currency: str = "USDT", *, tx_id: str = "fund:1", account: str = ACCOUNT
) -> TradingAccountFunded:
    return TradingAccountFunded(
        account=account, currency=currency, amount=amount, tx_id=tx_id, mode="paper"
    )


def raw(db: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection to the state DB, as someone editing the file would open it."""
    return sqlite3.connect(db, isolation_level=None)


def tamper(db: Path, sql: str, *args: object) -> None:
    """Run `sql` with the ledger's UPDATE triggers dropped, as someone editing the file would."""
    conn = raw(db)
    try:
        conn.execute("DROP TRIGGER IF EXISTS ledger_postings_no_update")
        conn.execute("DROP TRIGGER IF EXISTS ledger_transactions_no_update")
        conn.execute(sql, args)
    finally:
        conn.close()


def log_and_book(store: EventStore, ledger: Ledger, payloads: list[EventPayload]) -> None:
    """What the engine does: log the event, then book it."""
    for payload in payloads:
        store.append(payload, source="trading", correlation_id="run-1")
        if isinstance(payload, TradingOrderFilled):
            assert ledger.book_fill(payload)
        else:
            assert isinstance(payload, TradingAccountFunded) and ledger.book_funding(payload)
