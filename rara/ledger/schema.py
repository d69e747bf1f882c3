"""DDL of the ledger in the state DB: transactions (the chain) and their postings, append-only.

Triggers refuse UPDATE and DELETE on both tables, a transaction that does not extend the chain at
its head, and a posting that is not of the head transaction, so even a raw sqlite3 connection
cannot rewrite the books through SQL; editing the file (or dropping a trigger first) is caught by
`Ledger.verify`. Amounts are TEXT (canonical decimals, `rara.ledger.model`), never REAL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from rara.ledger.model import GENESIS_HASH
from rara.state import append_only

TX_COLUMNS = "seq, tx_id, kind, account, detail, prev_hash, hash"
POSTING_COLUMNS = "tx_seq, line, account, currency, amount"

SCHEMA = (
    f"""
CREATE TABLE IF NOT EXISTS ledger_transactions (
    seq INTEGER PRIMARY KEY,
    tx_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    account TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_postings (
    tx_seq INTEGER NOT NULL,
    line INTEGER NOT NULL,
    account TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount TEXT NOT NULL,
    PRIMARY KEY (tx_seq, line)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS ledger_transactions_at_head BEFORE INSERT ON ledger_transactions
WHEN NEW.seq IS NOT (SELECT coalesce(max(seq), 0) + 1 FROM ledger_transactions)
  OR NEW.prev_hash IS NOT coalesce(
       (SELECT hash FROM ledger_transactions ORDER BY seq DESC LIMIT 1), '{GENESIS_HASH}')
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: a transaction must extend the chain'); END;
CREATE TRIGGER IF NOT EXISTS ledger_postings_at_head BEFORE INSERT ON ledger_postings
WHEN NEW.tx_seq IS NOT (SELECT max(seq) FROM ledger_transactions)
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: postings belong to the newest transaction');
END;
"""
    + append_only("ledger_transactions", "append-only: the books are never rewritten")
    + append_only("ledger_postings", "append-only: the books are never rewritten")
)
TRIGGERS = (
    "ledger_transactions_at_head",
    "ledger_postings_at_head",
    "ledger_transactions_no_update",
    "ledger_transactions_no_delete",
    "ledger_postings_no_update",
    "ledger_postings_no_delete",
)


def has_tables(conn: sqlite3.Connection) -> bool:
    rows = conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
        "AND name IN ('ledger_transactions', 'ledger_postings')"
    ).fetchone()
    return int(rows[0]) == 2


# A stored transaction as read: its columns (TX_COLUMNS) and its postings' (account, currency,
# amount) in line order, raw: verify judges them, the ledger parses them.
StoredTx = tuple[tuple[object, ...], list[tuple[object, object, object]]]


def iter_stored(conn: sqlite3.Connection, after_seq: int = 0) -> Iterator[StoredTx]:
    """Transactions after `after_seq` with their postings, in seq order, in one statement (so in
    one snapshot); a transaction without postings comes with an empty list."""
    cur = conn.execute(
        "SELECT t.seq, t.tx_id, t.kind, t.account, t.detail, t.prev_hash, t.hash, "
        "p.account, p.currency, p.amount FROM ledger_transactions t "
        "LEFT JOIN ledger_postings p ON p.tx_seq = t.seq "
        "WHERE t.seq > ? ORDER BY t.seq, p.line",
        (after_seq,),
    )
    current: StoredTx | None = None
    while rows := cur.fetchmany(2000):
        for row in rows:
            if current is None or current[0][0] != row[0]:
                if current is not None:
                    yield current
                current = (tuple(row[:7]), [])
            if row[7] is not None or row[8] is not None or row[9] is not None:
                current[1].append((row[7], row[8], row[9]))
    if current is not None:
        yield current
