"""The double-entry ledger in the state DB: every fill, fee and funding is one transaction whose
postings balance per currency, amounts exact decimals (never floats), append-only, hash-chained
like the event log and idempotent by transaction id. Positions, cash, PnL and equity derive from
it, and it can be rebuilt from the event log. The chart of accounts is in `rara.ledger.chart`.

Typical use::

    with open_ledger(home.state_db) as ledger:       # home = Home.from_env() at the edge
        ledger.book_funding(TradingAccountFunded(account="paper:r1", currency="USDT", ...))
        ledger.book_fill(fill)                       # True; the same fill again: False
        ledger.balances("paper:r1")                  # {"BTC": Decimal(...), "USDT": Decimal(...)}
        ledger.position("paper:r1", "BTC/USDT")      # Position(quantity, entry_cost, realized_pnl)
        ledger.equity("paper:r1", {"BTC/USDT": close}, "USDT")
        ledger.state("paper:r1")                     # balances and positions, after each bar
        catch_up(ledger, event_store)                # book what the log holds and the books lack
        report = ledger.verify({"paper:r1": venue_balances}, events=event_store)
    rebuild_from_events(event_store, other_db)       # the same books, from the event log

Every read tops up running totals with the rows booked since the last one (by any process), so
reading an account after each bar costs what was booked since, never a scan of the ledger.
"""

from rara.domain.money import EXACT, exact
from rara.ledger.chart import (
    capital,
    conversion,
    fees,
    fill_transaction,
    fill_tx_id,
    funding_transaction,
    holdings,
)
from rara.ledger.model import (
    AccountState,
    LedgerProblem,
    LedgerReport,
    LedgerTransaction,
    Position,
    Posting,
    amount_text,
    parse_amount,
)
from rara.ledger.rebuild import CatchUp, catch_up, rebuild_from_events
from rara.ledger.store import Ledger, open_ledger

__all__ = [
    "EXACT",
    "AccountState",
    "CatchUp",
    "Ledger",
    "LedgerProblem",
    "LedgerReport",
    "LedgerTransaction",
    "Position",
    "Posting",
    "amount_text",
    "capital",
    "catch_up",
    "conversion",
    "exact",
    "fees",
    "fill_transaction",
    "fill_tx_id",
    "funding_transaction",
    "holdings",
    "open_ledger",
    "parse_amount",
    "rebuild_from_events",
]
