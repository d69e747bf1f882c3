"""The ledger in the state DB (`Home.state_db`): booking transactions once, reading balances,
positions and equity from running totals, verifying the books.

Booking takes the write lock up front (BEGIN IMMEDIATE) and reads the chain head inside that
transaction, so writers in any process serialise and the chain never forks. A transaction id
booked before is not booked again: the same content books nothing (False), other content is a
`ledger_conflict`. Reads top up the in-memory totals (`rara.ledger.book`) with the rows booked
since the last read, by any process, so they cost what was booked since, not the whole ledger.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from rara.closing import Closing
from rara.domain.events import TradingAccountFunded, TradingExternalFill, TradingOrderFilled
from rara.domain.money import ZERO, exact
from rara.errors import BadInput, RaraError
from rara.events import EventStore
from rara.events.model import canonical_json
from rara.ledger.book import BookedTx, FillFacts, RunningBook
from rara.ledger.chart import fill_transaction, funding_transaction
from rara.ledger.logged import logged_transactions
from rara.ledger.model import (
    GENESIS_HASH,
    AccountState,
    LedgerReport,
    LedgerTransaction,
    Position,
    amount_text,
    content,
    parse_amount,
    tx_hash,
)
from rara.ledger.schema import (
    POSTING_COLUMNS,
    SCHEMA,
    TX_COLUMNS,
    StoredTx,
    has_tables,
    iter_stored,
)
from rara.ledger.verify import verify_ledger
from rara.state import connect, open_tables, state_db_error


def corrupt(seq: object, tx_id: object, why: str) -> RaraError:
    return RaraError(
        "ledger_row_corrupt",
        f"ledger transaction seq {seq} ({tx_id}) cannot be read: {why}",
        "run `rara ledger verify` to see what was altered; restore rara.db from a backup",
    )


def parse_stored(tx: StoredTx) -> tuple[BookedTx, str, dict[str, Any]]:
    """A stored transaction as the running book takes it, with its kind and detail;
    `ledger_row_corrupt` if it cannot be read (an amount that is not canonical decimal text, a
    detail that is not JSON or lacks what a fill books)."""
    (seq, tx_id, kind, account, detail, _prev, _hash), postings = tx
    try:
        if not isinstance(detail, str) or not isinstance(kind, str) or not isinstance(account, str):
            raise ValueError("a column holds the wrong type")
        facts = json.loads(detail)
        if not isinstance(facts, dict):
            raise ValueError("its detail is not a JSON object")
        lines = [(str(a), str(c), parse_amount(v)) for a, c, v in postings]
        fill = _fill_facts(facts) if kind == "fill" else None
    except (ValueError, KeyError) as exc:  # json.JSONDecodeError is a ValueError
        raise corrupt(seq, tx_id, str(exc)) from exc
    return (int(str(seq)), account, fill, lines), kind, facts


def _fill_facts(d: dict[str, Any]) -> FillFacts:
    side, symbol = d["side"], d["symbol"]
    if side not in ("buy", "sell") or not isinstance(symbol, str) or "/" not in symbol:
        raise ValueError(f"its detail names side {side!r} of symbol {symbol!r}")
    return FillFacts(
        symbol=symbol,
        side=side,
        quantity=parse_amount(d["quantity"]),
        price=parse_amount(d["price"]),
        fee=parse_amount(d["fee"]),
        fee_currency=str(d["fee_currency"]),
    )


class Ledger(Closing):
    """One connection to the ledger; thread-safe. A context manager that closes it."""

    def __init__(self, db: Path | str, *, readonly: bool = False) -> None:
        self.path = Path(db)
        self.readonly = readonly
        self._lock = threading.RLock()
        self._book = RunningBook()
        if readonly:
            try:
                self._conn = connect(self.path, readonly=True)
            except sqlite3.Error as exc:
                raise state_db_error(self.path, "cannot open the ledger", exc) from exc
        else:
            # The schema is created once, in a fresh database: a trigger dropped later is not
            # put back behind verify's back, which reports it (`triggers_missing`).
            self.path, self._conn = open_tables(self.path, "", "the ledger")
            try:
                if not has_tables(self._conn):  # all of it or none: one write transaction
                    self._conn.executescript(f"BEGIN IMMEDIATE;\n{SCHEMA}\nCOMMIT;")
            except sqlite3.Error as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                self._conn.close()
                raise state_db_error(self.path, "cannot open the ledger", exc) from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise state_db_error(self.path, action, exc) from exc

    # -- booking -----------------------------------------------------------------------------

    def book(self, tx: LedgerTransaction) -> bool:
        """Book `tx` once: True if booked now, False if this very transaction was booked before.
        Refused before anything is written when its postings do not balance per currency
        (`ledger_unbalanced`) or its id was booked with other content (`ledger_conflict`)."""
        off = tx.imbalance()
        if off:
            sums = ", ".join(f"{c} {amount_text(v)}" for c, v in sorted(off.items()))
            raise BadInput(
                "ledger_unbalanced",
                f"transaction {tx.tx_id} does not balance: its postings sum to {sums}",
                "every currency's postings must sum to zero (conversion accounts carry the two "
                "legs of a trade)",
            )
        body = tx.content()
        rows = tx.postings_rows()
        detail = canonical_json(tx.detail)
        if self.readonly:
            raise RaraError(
                "ledger_read_only",
                f"cannot book {tx.tx_id}: this ledger was opened read-only",
                "open it with open_ledger(db) to book",
            )
        with self._lock, self._errors(f"booking {tx.tx_id}"):
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                booked = self._booked_content(tx.tx_id)
                if booked is None:
                    head = conn.execute(
                        "SELECT seq, hash FROM ledger_transactions ORDER BY seq DESC LIMIT 1"
                    ).fetchone()
                    seq, prev = (int(head[0]), str(head[1])) if head else (0, GENESIS_HASH)
                    seq += 1
                    conn.execute(
                        f"INSERT INTO ledger_transactions ({TX_COLUMNS}) VALUES (?,?,?,?,?,?,?)",
                        (
                            seq,
                            tx.tx_id,
                            tx.kind,
                            tx.account,
                            detail,
                            prev,
                            tx_hash(prev, seq, body),
                        ),
                    )
                    conn.executemany(
                        f"INSERT INTO ledger_postings ({POSTING_COLUMNS}) VALUES (?,?,?,?,?)",
                        [(seq, i, *row) for i, row in enumerate(rows)],
                    )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        if booked is not None and booked != body:
            raise RaraError(
                "ledger_conflict",
                f"transaction {tx.tx_id} is already booked with other content: "
                + _differences(booked, body),
                "a transaction id books one movement: give a different movement its own id, "
                "and check where the two versions of this one came from",
            )
        return booked is None

    def _booked_content(self, tx_id: str) -> dict[str, Any] | None:
        """The content of `tx_id` as stored, None if not booked; inside the caller's lock."""
        row = self._conn.execute(
            f"SELECT {TX_COLUMNS} FROM ledger_transactions WHERE tx_id = ?", (tx_id,)
        ).fetchone()
        if row is None:
            return None
        postings = self._conn.execute(
            "SELECT account, currency, amount FROM ledger_postings WHERE tx_seq = ? ORDER BY line",
            (row[0],),
        ).fetchall()
        (_, account, _, lines), kind, facts = parse_stored((tuple(row), postings))
        return content(tx_id, kind, account, facts, [(a, c, amount_text(v)) for a, c, v in lines])

    def book_fill(self, fill: TradingOrderFilled | TradingExternalFill) -> bool:
        """Book one fill, of our order or an external one (its id:
        ``fill:<exchange>:<account>:<fill_id>``); False if booked before."""
        return self.book(fill_transaction(fill))

    def book_funding(self, funded: TradingAccountFunded) -> bool:
        """Book money moved into or out of an account (its id: the event's ``tx_id``)."""
        return self.book(funding_transaction(funded))

    # -- reading -----------------------------------------------------------------------------

    def _refresh(self) -> RunningBook:
        """The running book, topped up with what was booked since it was last read."""
        with self._lock, self._errors("reading the ledger"):
            if self.readonly and not has_tables(self._conn):
                return self._book
            for stored in iter_stored(self._conn, self._book.last_seq):
                self._book.apply(parse_stored(stored)[0])
            return self._book

    def last_seq(self) -> int:
        return self._refresh().last_seq

    def accounts(self) -> list[str]:
        """Every trading account with a transaction."""
        return sorted(self._refresh().accounts)

    def balances(self, account: str) -> dict[str, Decimal]:
        """What `account` holds per currency (cash and positions alike); zero balances left out."""
        return self._refresh().balances(account)

    def position(self, account: str, symbol: str) -> Position:
        """`account`'s position in `symbol` from its fills (flat if it never traded it)."""
        return self._refresh().position(account, symbol)

    def state(self, account: str) -> AccountState:
        """Balances and every position of `account` in one read: what the engine asks after
        each bar."""
        return self._refresh().state(account)

    def equity(self, account: str, marks: Mapping[str, Decimal], quote: str) -> Decimal:
        """What `account` is worth in `quote`: its `quote` holdings plus every other currency it
        holds at its mark. `marks` maps a symbol ``BASE/QUOTE`` to its price (e.g. the bar's
        close); a held currency without a mark is `ledger_mark_missing`."""
        total = ZERO
        with exact():
            for currency, held in self.balances(account).items():
                if currency == quote:
                    total += held
                    continue
                symbol = f"{currency}/{quote}"
                mark = marks.get(symbol)
                if mark is None:
                    raise BadInput(
                        "ledger_mark_missing",
                        f"{account} holds {amount_text(held)} {currency} but no mark for {symbol} "
                        "was given",
                        f"pass marks={{'{symbol}': price}}",
                    )
                total += held * mark
        return total

    def verify(
        self,
        venue_balances: Mapping[str, Mapping[str, Decimal]] | None = None,
        events: EventStore | None = None,
    ) -> LedgerReport:
        """Walk the whole ledger: the chain, each transaction's balance and postings, the trial
        balance; when given, the venue's balances per account and currency, and the event log
        (every funding and fill event booked as it says, every transaction from an event).
        Never raises for damage: the report names each problem and its transaction."""
        logged = logged_transactions(events) if events is not None else None
        with self._lock:
            return verify_ledger(self._conn, venue_balances, logged)


def _differences(booked: dict[str, Any], given: dict[str, Any]) -> str:
    """Which parts of a transaction differ, for people."""
    parts = []
    for key in ("kind", "account"):
        if booked[key] != given[key]:
            parts.append(f"{key} {booked[key]!r} booked, {given[key]!r} now")
    old, new = booked["detail"], given["detail"]
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            parts.append(f"{key} {old.get(key)!r} booked, {new.get(key)!r} now")
    if not parts and booked["postings"] != given["postings"]:
        parts.append("the postings differ")
    return "; ".join(parts) or "the content differs"


def open_ledger(db: Path | str, *, readonly: bool = False) -> Ledger:
    """The ledger in the state DB at `db` (`Home.state_db`)."""
    return Ledger(db, readonly=readonly)
