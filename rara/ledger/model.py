"""The ledger's values: exact amounts, postings, transactions and their hash; pure, no I/O.

Exact arithmetic: every sum and product of booked amounts runs in `EXACT`, a decimal context of
200 significant digits that traps ``Inexact``: a fill's quantity and price carry up to ~17
significant digits each (decimals made from float reprs), so their product needs ~34 and a sum of
such products across exponents more, beyond Decimal's default 28. Nothing is ever rounded
silently: an operation that would round raises instead.

An amount is stored as its canonical text: fixed-point, no exponent, no trailing zeros, no "-0"
(``"0.1"``, ``"-5000"``, ``"0"``), so the same value always has the same text and the same hash.

A transaction's hash is ``sha256(prev_hash + canonical_json(envelope))`` where the envelope is
``{"seq", "tx_id", "kind", "account", "detail", "postings": [[account, currency, amount], ...]}``
(postings in their stored order, amounts as canonical text): the event log's chain, applied to
transactions and their postings together.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
)
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rara.domain.events import ExactDecimal
from rara.domain.money import EXACT, ZERO, exact
from rara.events.model import canonical_json

GENESIS_HASH = "0" * 64
# Shown, never booked: the one rounded figure (an average price is a division).
DISPLAY = Context(prec=34, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero])

MAX_AMOUNT_CHARS = 200
MAX_NAME_CHARS = 300
_CANONICAL_AMOUNT = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$")
TxKind = Literal["fill", "funding"]


def amount_text(value: Decimal) -> str:
    """The canonical text of an amount (see the module doc). Raises decimal.Inexact if the value
    has more digits than `EXACT` holds."""
    if not value.is_finite():
        raise InvalidOperation(f"{value} is not a finite amount")
    if value.is_zero():
        return "0"
    return format(value.normalize(EXACT), "f")


def parse_amount(text: object) -> Decimal:
    """An amount from its stored text; ValueError naming the text when it is not canonical (a
    float written into the column, an edit by hand, garbage)."""
    if not isinstance(text, str):
        raise ValueError(f"amount {text!r} is a {type(text).__name__}, not decimal text")
    if len(text) > MAX_AMOUNT_CHARS or not _CANONICAL_AMOUNT.match(text) or text == "-0":
        raise ValueError(f"amount {text[:60]!r} is not a canonical decimal")
    return Decimal(text)


def _name(value: object, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_NAME_CHARS:
        raise ValueError(f"{what} must be a non-empty string of at most {MAX_NAME_CHARS} chars")
    if value != value.strip() or any(ord(c) < 32 for c in value):
        raise ValueError(f"{what} {value!r} has surrounding spaces or control characters")
    return value


class Posting(BaseModel):
    """One line of a transaction: ``amount`` of ``currency`` into ledger account ``account``
    (positive: debit, into it; negative: credit, out of it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account: str = Field(description="a ledger account of the chart, e.g. paper:r1:holdings")
    currency: str
    amount: ExactDecimal

    @field_validator("account", "currency", mode="before")
    @classmethod
    def _names(cls, value: object) -> str:
        return _name(value, "a posting's account or currency")

    def row(self) -> tuple[str, str, str]:
        """(account, currency, canonical amount text): as stored and hashed."""
        return self.account, self.currency, amount_text(self.amount)


class LedgerTransaction(BaseModel):
    """One booked movement: a fill, or a funding. ``account`` is the trading account it belongs
    to; ``detail`` the facts it was booked from (a fill's symbol, side, quantity, price, fee...),
    hashed with it. Whether its postings balance is checked when it is booked
    (`imbalance`), not here, so verify can describe a stored one that does not."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tx_id: str
    kind: TxKind
    account: str
    detail: dict[str, str | int | None] = Field(default_factory=dict)
    postings: tuple[Posting, ...] = Field(min_length=2)

    @field_validator("tx_id", "account", mode="before")
    @classmethod
    def _names(cls, value: object) -> str:
        return _name(value, "tx_id and account")

    def imbalance(self) -> dict[str, Decimal]:
        """The currencies whose postings do not sum to zero, with the sum; empty when balanced."""
        return imbalance(p.row() for p in self.postings)

    def content(self) -> dict[str, Any]:
        """What idempotency compares and the hash covers (without the seq)."""
        return content(self.tx_id, self.kind, self.account, self.detail, self.postings_rows())

    def postings_rows(self) -> list[tuple[str, str, str]]:
        return [p.row() for p in self.postings]


def content(
    tx_id: str,
    kind: str,
    account: str,
    detail: dict[str, Any],
    postings: list[tuple[str, str, str]] | list[tuple[str, str, object]],
) -> dict[str, Any]:
    return {
        "tx_id": tx_id,
        "kind": kind,
        "account": account,
        "detail": detail,
        "postings": [list(p) for p in postings],
    }


def tx_hash(prev_hash: str, seq: int, content: dict[str, Any]) -> str:
    """The chain hash of the transaction at `seq` with this content."""
    envelope = canonical_json({"seq": seq, **content})
    return hashlib.sha256((prev_hash + envelope).encode("utf-8")).hexdigest()


def imbalance(
    rows: Iterator[tuple[str, str, str]] | list[tuple[str, str, str]],
) -> dict[str, Decimal]:
    """Per currency, the sum of postings ``(account, currency, amount text)`` that is not zero."""
    sums: dict[str, Decimal] = {}
    with exact():
        for _account, currency, amount in rows:
            sums[currency] = sums.get(currency, ZERO) + parse_amount(amount)
    return {c: s for c, s in sums.items() if not s.is_zero()}


class Position(BaseModel):
    """One trading account's position in one market, derived from its fills (FIFO lots).

    ``quantity`` is base units held through trades in this market (base-currency fees deducted);
    ``entry_cost`` the quote paid for the open lots at their fill prices, fees excluded;
    ``realized_pnl`` in quote, net of every fee paid in quote or base (a base fee is valued at its
    fill's price), so a closed round trip's is exit notional - entry notional - both fees, the
    backtest's trade PnL. A fee in a third currency is in ``fees`` only. Exact: FIFO lot matching
    multiplies and adds, it never divides.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    account: str
    symbol: str
    base: str
    quote: str
    quantity: ExactDecimal = ZERO
    entry_cost: ExactDecimal = ZERO
    realized_pnl: ExactDecimal = ZERO
    fees: dict[str, ExactDecimal] = Field(default_factory=dict)
    fills: int = 0

    @property
    def average_entry_price(self) -> Decimal | None:
        """entry_cost / quantity rounded to 34 significant digits (shown, never booked); None
        when flat."""
        if self.quantity.is_zero():
            return None
        return DISPLAY.divide(self.entry_cost, self.quantity)

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        """The open lots at `mark` (quote per base), less what they cost."""
        with exact():
            return self.quantity * mark - self.entry_cost


class AccountState(BaseModel):
    """A trading account as the ledger holds it after transaction ``last_seq``: the holdings per
    currency and the position per market traded."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account: str
    last_seq: int
    balances: dict[str, ExactDecimal]
    positions: dict[str, Position]


class LedgerProblem(BaseModel):
    """One thing `verify` found wrong; ``seq``/``tx_id`` name the transaction when there is one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # seq_gap | bad_row | bad_amount | prev_hash_mismatch | hash_mismatch | no_postings |
    # unbalanced | postings_mismatch | orphan_postings | trial_balance | triggers_missing |
    # venue_mismatch | sqlite_error | event_not_booked | event_mismatch | tx_without_event |
    # event_unbookable | events_unreadable
    problem: str
    seq: int | None = None
    tx_id: str | None = None
    detail: str

    def describe(self) -> str:
        where = ""
        if self.seq is not None:
            where = f"transaction seq {self.seq}" + (f" ({self.tx_id})" if self.tx_id else "")
            where += ": "
        return f"{where}{self.detail}"


class LedgerReport(BaseModel):
    """The outcome of `Ledger.verify`: ok, or every problem found (the first in ``reason``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ok: bool
    transactions_checked: int
    postings_checked: int
    last_seq: int
    head_hash: str
    trial_balance: dict[str, ExactDecimal] = Field(
        description="per currency, the sum of every posting: zero when the books balance"
    )
    venue_checked: list[str] = Field(default_factory=list, description="accounts compared")
    events_checked: int | None = Field(
        None, description="funding and fill events compared with the books; None: not asked"
    )
    problems: list[LedgerProblem] = Field(default_factory=list)
    problem_count: int = 0
    reason: str | None = None
