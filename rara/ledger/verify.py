"""Verifying the books, in one read snapshot: every transaction's hash and link, its amounts, that
its postings balance per currency and are the ones its kind and detail call for; the trial balance
(every posting summed per currency is zero); the append-only triggers; and, when given, that each
account holds per currency what its venue says. Each problem names its transaction (seq, tx_id)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from rara.domain.money import ZERO, exact
from rara.errors import RaraError
from rara.events.model import canonical_json
from rara.ledger.chart import expected_postings, holdings
from rara.ledger.model import (
    GENESIS_HASH,
    LedgerProblem,
    LedgerReport,
    LedgerTransaction,
    amount_text,
    content,
    parse_amount,
    tx_hash,
)
from rara.ledger.schema import TRIGGERS, StoredTx, has_tables, iter_stored

MAX_PROBLEMS = 100  # listed in a report; problem_count counts them all


def digest(body: dict[str, Any]) -> str:
    """A transaction's content in 64 characters: what the walk keeps to compare with the log."""
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


class _Walk:
    """What the walk has seen so far."""

    def __init__(self) -> None:
        self.problems: list[LedgerProblem] = []
        self.count = 0
        self.checked = 0
        self.postings = 0
        self.expected = 1
        self.prev = GENESIS_HASH
        self.trial: dict[str, Decimal] = {}
        self.held: dict[str, dict[str, Decimal]] = {}  # ledger account -> currency -> sum
        self.last_tx: dict[str, tuple[int, str]] = {}  # trading account -> its newest tx
        self.booked: dict[str, tuple[int, str | None]] = {}  # tx_id -> seq, content digest

    def bad(self, problem: str, detail: str, seq: int | None = None, tx_id: Any = None) -> None:
        self.count += 1
        if len(self.problems) < MAX_PROBLEMS:
            name = tx_id if isinstance(tx_id, str) else None
            self.problems.append(LedgerProblem(problem=problem, seq=seq, tx_id=name, detail=detail))

    def transaction(self, stored: StoredTx) -> None:
        (seq, tx_id, kind, account, detail, prev_hash, h), lines = stored
        n = int(str(seq))
        self.checked += 1
        self.postings += len(lines)
        if n != self.expected:
            self.bad("seq_gap", f"expected seq {self.expected}: transactions are missing", n, tx_id)
        self.expected = n + 1
        texts = (tx_id, kind, account, detail, prev_hash, h)
        if not all(isinstance(v, str) for v in texts) or not all(
            isinstance(a, str) and isinstance(c, str) for a, c, _ in lines
        ):
            self.bad("bad_row", "a column holds the wrong type", n, tx_id)
            self.prev = h if isinstance(h, str) else self.prev
            return
        assert isinstance(h, str) and isinstance(account, str) and isinstance(detail, str)
        self.booked[str(tx_id)] = (n, None)
        if prev_hash != self.prev:
            self.bad("prev_hash_mismatch", f"does not link to the hash of seq {n - 1}", n, tx_id)
        self.prev = h
        try:
            facts = json.loads(detail)
            if not isinstance(facts, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            self.bad("bad_row", f"its detail cannot be read: {exc}", n, tx_id)
            return
        raw = [(str(a), str(c), v) for a, c, v in lines]
        body = content(str(tx_id), str(kind), account, facts, raw)  # the stored text as is
        try:
            if tx_hash(str(prev_hash), n, body) != h:
                self.bad("hash_mismatch", "its content does not match its hash: altered", n, tx_id)
        except (TypeError, ValueError) as exc:  # an amount of another type than text
            self.bad("bad_row", f"cannot be hashed: {exc}", n, tx_id)
        parsed: list[tuple[str, str, Decimal]] = []
        for i, (a, c, v) in enumerate(raw):
            try:
                parsed.append((a, c, parse_amount(v)))
            except ValueError as exc:
                self.bad("bad_amount", f"posting {i} ({a} {c}): {exc}", n, tx_id)
        if len(parsed) < len(raw):
            return
        self.booked[str(tx_id)] = (n, digest(body))
        self._balance(n, str(tx_id), str(kind), account, facts, parsed)

    def _balance(
        self,
        n: int,
        tx_id: str,
        kind: str,
        account: str,
        facts: dict[str, Any],
        parsed: list[tuple[str, str, Decimal]],
    ) -> None:
        if len(parsed) < 2:
            self.bad(
                "no_postings",
                f"has {len(parsed)} posting(s); a transaction has two or more",
                n,
                tx_id,
            )
        sums: dict[str, Decimal] = {}
        with exact():
            for a, c, v in parsed:
                sums[c] = sums.get(c, ZERO) + v
                self.trial[c] = self.trial.get(c, ZERO) + v
                per = self.held.setdefault(a, {})
                per[c] = per.get(c, ZERO) + v
        off = {c: s for c, s in sums.items() if s}
        if off:
            text = ", ".join(f"{c} sums to {amount_text(s)}" for c, s in sorted(off.items()))
            self.bad("unbalanced", f"its postings do not balance: {text}", n, tx_id)
        self.last_tx[account] = (n, tx_id)
        if len(parsed) < 2:
            return
        try:
            tx = LedgerTransaction.model_validate(
                {
                    "tx_id": tx_id,
                    "kind": kind,
                    "account": account,
                    "detail": facts,
                    "postings": [{"account": a, "currency": c, "amount": v} for a, c, v in parsed],
                }
            )
            want = [p.row() for p in expected_postings(tx)]
        except (ValidationError, ValueError, KeyError, ArithmeticError, RaraError) as exc:
            self.bad("postings_mismatch", f"its detail does not say what it books: {exc}", n, tx_id)
            return
        have = [(a, c, amount_text(v)) for a, c, v in parsed]
        if have != want:
            self.bad(
                "postings_mismatch",
                f"its postings are not those its {kind} detail calls for: stored {have}, "
                f"expected {want}",
                n,
                tx_id,
            )


def verify_ledger(
    conn: sqlite3.Connection,
    venue_balances: Mapping[str, Mapping[str, Decimal]] | None = None,
    logged: Iterable[tuple[int, LedgerTransaction | RaraError]] | None = None,
) -> LedgerReport:
    """The report on the ledger behind `conn`; never raises for damage. `logged`: the
    transactions the event log calls for (`rara.ledger.logged`), to compare with the books."""
    walk = _Walk()
    names: set[str] = set()
    try:
        conn.execute("BEGIN")  # one read snapshot
        try:
            if has_tables(conn):
                names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
                for stored in iter_stored(conn):
                    walk.transaction(stored)
                orphans = conn.execute(
                    "SELECT DISTINCT tx_seq FROM ledger_postings WHERE tx_seq NOT IN "
                    "(SELECT seq FROM ledger_transactions) ORDER BY tx_seq LIMIT 10"
                ).fetchall()
                for (seq,) in orphans:
                    walk.bad("orphan_postings", "postings of a transaction that is not there", seq)
                missing = [t for t in TRIGGERS if t not in names]
                if missing:
                    walk.bad(
                        "triggers_missing",
                        f"append-only trigger(s) dropped: {', '.join(missing)}",
                    )
        finally:
            conn.execute("COMMIT")
    except (sqlite3.Error, UnicodeError) as exc:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        walk.bad("sqlite_error", f"SQLite cannot read the ledger: {exc}")
    for currency, total in sorted(walk.trial.items()):
        if total:
            walk.bad(
                "trial_balance",
                f"the trial balance is off: {currency} postings sum to {amount_text(total)}",
            )
    venue_checked = _against_venue(walk, venue_balances or {})
    events_checked = _against_log(walk, logged) if logged is not None else None
    first = walk.problems[0].describe() if walk.problems else None
    if first is not None and walk.count > 1:
        first += f" (and {walk.count - 1} more problem{'s' * (walk.count > 2)})"
    return LedgerReport(
        ok=walk.count == 0,
        transactions_checked=walk.checked,
        postings_checked=walk.postings,
        last_seq=walk.expected - 1,
        head_hash=walk.prev,
        trial_balance={c: Decimal(amount_text(v)) for c, v in sorted(walk.trial.items())},
        venue_checked=venue_checked,
        events_checked=events_checked,
        problems=walk.problems,
        problem_count=walk.count,
        reason=first,
    )


def _against_venue(walk: _Walk, venue: Mapping[str, Mapping[str, Decimal]]) -> list[str]:
    """Compare each account's holdings with its venue's; a mismatch names the account's newest
    transaction (the books disagree as of it)."""
    for account, theirs in sorted(venue.items()):
        ours = walk.held.get(holdings(account), {})
        seq, tx_id = walk.last_tx.get(account, (None, None))
        for currency in sorted(set(ours) | set(theirs)):
            mine = ours.get(currency, ZERO)
            other = theirs.get(currency, ZERO)
            if mine != other:
                walk.bad(
                    "venue_mismatch",
                    f"{account} holds {amount_text(mine)} {currency} in the ledger, "
                    f"{other} at the venue",
                    seq,
                    tx_id,
                )
    return sorted(venue)


def _against_log(walk: _Walk, logged: Iterable[tuple[int, LedgerTransaction | RaraError]]) -> int:
    """Every funding and fill event is booked, as the event says, and every transaction booked
    comes from an event: a ledger that lost its newest transactions, or holds one nobody logged,
    is caught here. Returns the number of events compared."""
    seen: set[str] = set()
    count = 0
    events = iter(logged)
    while True:
        try:
            event_seq, tx = next(events)
        except StopIteration:
            break
        except RaraError as exc:  # the log cannot be read: its own verify says why
            walk.bad("events_unreadable", f"the event log cannot be read: {exc.message}")
            return count
        count += 1
        if isinstance(tx, RaraError):
            walk.bad("event_unbookable", f"event seq {event_seq} cannot be booked: {tx.message}")
            continue
        seen.add(tx.tx_id)
        booked = walk.booked.get(tx.tx_id)
        if booked is None:
            walk.bad(
                "event_not_booked",
                f"event seq {event_seq} logged it but the ledger does not hold it: the ledger is "
                "behind the log (book it by catching up) or lost its newest transactions",
                None,
                tx.tx_id,
            )
        elif booked[1] is not None and booked[1] != digest(tx.content()):
            walk.bad("event_mismatch", f"differs from event seq {event_seq}", booked[0], tx.tx_id)
    for tx_id, (seq, _) in sorted(walk.booked.items(), key=lambda kv: kv[1][0]):
        if tx_id not in seen:
            walk.bad("tx_without_event", "no event in the log books it", seq, tx_id)
    return count
