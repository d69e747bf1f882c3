"""The running totals a ledger keeps in memory: every ledger account's balance per currency and
every trading account's positions, topped up transaction by transaction in seq order, so reading
an account after each bar costs the rows booked since the last read, never a full scan.

Positions match fills FIFO against open lots (long lots for buys, short lots for a sell beyond
what trades bought): realized PnL is ``(exit price - lot price) x matched quantity`` summed, less
fees, with no division anywhere, so it is exact. A fee paid in the base currency is a disposal of
those units at the fill's price whose proceeds are the fee: its cost leaves the lots and its value
counts as a fee in quote.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from rara.domain.money import ZERO, exact
from rara.domain.orders import base_and_quote
from rara.ledger.chart import holdings
from rara.ledger.model import AccountState, Position


@dataclass
class _Lot:
    quantity: Decimal  # signed: positive long, negative short
    price: Decimal


@dataclass
class PositionBook:
    """One (account, symbol)'s lots and what they realized."""

    account: str
    symbol: str
    lots: deque[_Lot] = field(default_factory=deque)
    realized: Decimal = ZERO
    fees: dict[str, Decimal] = field(default_factory=dict)
    fills: int = 0

    def fill(
        self, side: str, quantity: Decimal, price: Decimal, fee: Decimal, fee_ccy: str
    ) -> None:
        base, quote = base_and_quote(self.symbol)
        with exact():
            self._trade(quantity if side == "buy" else quantity.copy_negate(), price)
            if fee_ccy == base and fee:
                self._trade(fee.copy_negate(), price)
                self.realized -= fee * price
            elif fee_ccy == quote:
                self.realized -= fee
            self.fees[fee_ccy] = self.fees.get(fee_ccy, ZERO) + fee
        self.fills += 1

    def _trade(self, signed: Decimal, price: Decimal) -> None:
        """Match `signed` base units at `price` against opposite lots, oldest first; what is left
        opens a lot. Runs inside `exact()`."""
        left = signed
        while left and self.lots and (self.lots[0].quantity > 0) != (left > 0):
            lot = self.lots[0]
            matched = min(abs(left), abs(lot.quantity))
            direction = 1 if lot.quantity > 0 else -1  # closing a long: sell; a short: buy
            self.realized += (price - lot.price) * matched * direction
            lot.quantity -= matched * direction
            left += matched * direction
            if not lot.quantity:
                self.lots.popleft()
        if left:
            self.lots.append(_Lot(left, price))

    def position(self) -> Position:
        base, quote = base_and_quote(self.symbol)
        with exact():
            quantity = sum((lot.quantity for lot in self.lots), ZERO)
            cost = sum((lot.quantity * lot.price for lot in self.lots), ZERO)
        return Position(
            account=self.account,
            symbol=self.symbol,
            base=base,
            quote=quote,
            quantity=quantity,
            entry_cost=cost,
            realized_pnl=self.realized,
            fees=dict(self.fees),
            fills=self.fills,
        )


class FillFacts(NamedTuple):
    """What a fill transaction's detail says about the trade, parsed."""

    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str


# A stored transaction as the book takes it, read and checked (`rara.ledger.store.parse_stored`):
# seq, account, the fill's facts (None for a funding), postings (ledger account, currency, amount)
BookedTx = tuple[int, str, FillFacts | None, list[tuple[str, str, Decimal]]]


class RunningBook:
    """Balances per (ledger account, currency) and positions per (account, symbol), after
    ``last_seq``."""

    def __init__(self) -> None:
        self.last_seq = 0
        self.totals: dict[str, dict[str, Decimal]] = {}  # ledger account -> currency -> sum
        self.positions: dict[tuple[str, str], PositionBook] = {}
        self.accounts: set[str] = set()

    def apply(self, tx: BookedTx) -> None:
        """Add one transaction; transactions come in seq order, each once."""
        seq, account, facts, postings = tx
        with exact():
            for ledger_account, currency, amount in postings:
                sums = self.totals.setdefault(ledger_account, {})
                sums[currency] = sums.get(currency, ZERO) + amount
        if facts is not None:
            book = self.positions.get((account, facts.symbol))
            if book is None:
                book = self.positions[(account, facts.symbol)] = PositionBook(account, facts.symbol)
            book.fill(facts.side, facts.quantity, facts.price, facts.fee, facts.fee_currency)
        self.accounts.add(account)
        self.last_seq = seq

    def balances(self, account: str) -> dict[str, Decimal]:
        """What `account` holds, per currency; currencies at zero left out."""
        return {c: v for c, v in sorted(self.totals.get(holdings(account), {}).items()) if v}

    def position(self, account: str, symbol: str) -> Position:
        book = self.positions.get((account, symbol))
        if book is None:
            base, quote = base_and_quote(symbol)
            return Position(account=account, symbol=symbol, base=base, quote=quote)
        return book.position()

    def state(self, account: str) -> AccountState:
        return AccountState(
            account=account,
            last_seq=self.last_seq,
            balances=self.balances(account),
            positions={
                s: b.position() for (a, s), b in sorted(self.positions.items()) if a == account
            },
        )
