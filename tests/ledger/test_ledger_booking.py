"""Booking: every transaction balances per currency, amounts are exact decimal text, a fill is
booked once, a conflicting or unbalanced transaction is refused before anything is written."""

from __future__ import annotations

import threading
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from rara.errors import BadInput, RaraError
from rara.ledger import (
    Ledger,
    LedgerTransaction,
    Posting,
    capital,
    conversion,
    fees,
    fill_transaction,
    holdings,
    open_ledger,
)
from tests.ledger.books import ACCOUNT, SYMBOL, fill, funding, raw

Q = "0.12345678901234567"  # 17 significant digits each, like a float's repr
P = "43210.123456789012"


def rows(db: Path) -> list[tuple[int, str, str, str, str]]:
    conn = raw(db)
    try:
        return conn.execute(
            "SELECT tx_seq, account, currency, amount, typeof(amount) FROM ledger_postings "
            "ORDER BY tx_seq, line"
        ).fetchall()
    finally:
        conn.close()


def per_tx_sums(db: Path) -> dict[tuple[int, str], Fraction]:
    """Sum of postings per (transaction, currency), read with plain sqlite3 and Fractions."""
    sums: dict[tuple[int, str], Fraction] = {}
    for seq, _, currency, amount, _ in rows(db):
        sums[(seq, currency)] = sums.get((seq, currency), Fraction(0)) + Fraction(amount)
    return sums


def test_a_buy_books_both_legs_through_conversion_and_the_fee(ledger: Ledger, db: Path) -> None:
    assert ledger.book_funding(funding("10000"))
    assert ledger.book_fill(fill("f1", "buy", Q, P, fee="5.25"))
    notional = Fraction(Q) * Fraction(P)
    got = [(a, c, Fraction(v)) for _, a, c, v, _ in rows(db)]
    assert got == [
        (holdings(ACCOUNT), "USDT", Fraction(10000)),
        (capital(ACCOUNT), "USDT", Fraction(-10000)),
        (holdings(ACCOUNT), "BTC", Fraction(Q)),
        (conversion(ACCOUNT, SYMBOL), "BTC", -Fraction(Q)),
        (conversion(ACCOUNT, SYMBOL), "USDT", notional),
        (holdings(ACCOUNT), "USDT", -notional),
        (fees(ACCOUNT), "USDT", Fraction("5.25")),
        (holdings(ACCOUNT), "USDT", Fraction("-5.25")),
    ]
    assert all(s == 0 for s in per_tx_sums(db).values())
    # 17 x 17 significant digits: beyond Decimal's default 28, and not rounded
    assert Fraction(ledger.balances(ACCOUNT)["USDT"]) == 10000 - notional - Fraction("5.25")
    assert ledger.balances(ACCOUNT)["BTC"] == Decimal(Q)


def test_amounts_are_canonical_decimal_text(ledger: Ledger, db: Path) -> None:
    ledger.book_funding(funding("1000.500"))
    ledger.book_fill(fill("f1", "buy", "0.10", "100.00", fee="0.0100"))
    stored = rows(db)
    assert {t for *_, t in stored} == {"text"}
    assert [v for _, _, _, v, _ in stored] == [
        "1000.5",
        "-1000.5",
        "0.1",
        "-0.1",
        "10",
        "-10",
        "0.01",
        "-0.01",
    ]


def test_a_sell_and_fees_in_base_and_a_third_currency_balance(ledger: Ledger, db: Path) -> None:
    ledger.book_funding(funding("1", "BTC", tx_id="fund:btc"))
    ledger.book_funding(funding("3", "BNB", tx_id="fund:bnb"))
    ledger.book_fill(fill("f1", "sell", "0.4", "50000", fee="0.0004", fee_currency="BTC"))
    ledger.book_fill(fill("f2", "buy", "0.1", "49000", fee="0.01", fee_currency="BNB"))
    assert all(s == 0 for s in per_tx_sums(db).values())
    assert ledger.balances(ACCOUNT) == {
        "BNB": Decimal("2.99"),
        "BTC": Decimal("0.6996"),
        "USDT": Decimal("15100"),
    }
    assert ledger.verify().ok


def test_the_same_fill_twice_books_once(ledger: Ledger, db: Path) -> None:
    assert ledger.book_fill(fill("f1", "buy", Q, P, fee="1"))
    before = rows(db)
    assert ledger.book_fill(fill("f1", "buy", Q, P, fee="1")) is False
    # the same value written another way is the same content
    assert ledger.book_fill(fill("f1", "buy", Q + "000", P, fee="1.000")) is False
    assert rows(db) == before
    assert ledger.last_seq() == 1
    assert ledger.position(ACCOUNT, SYMBOL).fills == 1


def test_the_same_id_with_other_content_is_a_conflict(ledger: Ledger, db: Path) -> None:
    ledger.book_fill(fill("f1", "buy", "0.1", "100"))
    before = rows(db)
    with pytest.raises(RaraError) as caught:
        ledger.book_fill(fill("f1", "buy", "0.2", "100"))
    assert caught.value.code == "ledger_conflict"
    assert "fill:binance:paper:run-1:f1" in caught.value.message
    assert "quantity '0.1' booked, '0.2' now" in caught.value.message
    assert rows(db) == before


def test_a_conflict_is_seen_from_another_connection(db: Path) -> None:
    with open_ledger(db) as one, open_ledger(db) as two:
        assert one.book_fill(fill("f1", "buy", "0.1", "100"))
        assert two.book_fill(fill("f1", "buy", "0.1", "100")) is False
        with pytest.raises(RaraError, match="already booked with other content"):
            two.book_fill(fill("f1", "sell", "0.1", "100"))
        # each connection's running totals take in what the other booked
        assert two.book_fill(fill("f2", "buy", "0.2", "100"))
        assert one.balances(ACCOUNT) == {"BTC": Decimal("0.3"), "USDT": Decimal(-30)}


def test_an_unbalanced_transaction_is_refused_before_anything_is_written(
    ledger: Ledger, db: Path
) -> None:
    ledger.book_funding(funding("100"))
    lopsided = LedgerTransaction(
        tx_id="manual:1",
        kind="funding",
        account=ACCOUNT,
        postings=(
            Posting(account=holdings(ACCOUNT), currency="USDT", amount=Decimal("10")),
            Posting(account=capital(ACCOUNT), currency="USDT", amount=Decimal("-9.99")),
            Posting(account=holdings(ACCOUNT), currency="BTC", amount=Decimal("1")),
            Posting(account=capital(ACCOUNT), currency="BTC", amount=Decimal("-1")),
        ),
    )
    before = rows(db)
    with pytest.raises(BadInput) as caught:
        ledger.book(lopsided)
    assert caught.value.code == "ledger_unbalanced"
    assert "USDT 0.01" in caught.value.message and "BTC" not in caught.value.message
    assert rows(db) == before and ledger.last_seq() == 1


@pytest.mark.parametrize(
    ("quantity", "price", "fee", "says"),
    [("0", "100", "0", "quantity 0"), ("1", "-5", "0", "price -5"), ("1", "5", "-1", "fee -1")],
)
def test_a_fill_no_venue_makes_is_refused(
    ledger: Ledger, quantity: str, price: str, fee: str, says: str
) -> None:
    with pytest.raises(BadInput, match=says) as caught:
        ledger.book_fill(fill("f1", "buy", quantity, price, fee=fee))
    assert caught.value.code == "ledger_fill_invalid"
    assert ledger.last_seq() == 0


def test_a_zero_funding_is_refused(ledger: Ledger) -> None:
    with pytest.raises(BadInput) as caught:
        ledger.book_funding(funding("0"))
    assert caught.value.code == "ledger_funding_invalid"


def test_sql_cannot_rewrite_the_books(ledger: Ledger, db: Path) -> None:
    ledger.book_funding(funding("100"))
    conn = raw(db)
    try:
        for sql in (
            "UPDATE ledger_postings SET amount = '1000' WHERE line = 0",
            "DELETE FROM ledger_postings",
            "UPDATE ledger_transactions SET tx_id = 'x'",
            "DELETE FROM ledger_transactions",
            # a posting slipped into a transaction already booked
            "INSERT INTO ledger_postings VALUES (0, 9, 'x', 'USDT', '5')",
            "INSERT INTO ledger_transactions VALUES (7, 'x', 'fill', 'a', '{}', 'p', 'h')",
        ):
            with pytest.raises(Exception, match="append-only"):
                conn.execute(sql)
    finally:
        conn.close()
    assert ledger.verify().ok


def test_positions_and_equity(ledger: Ledger) -> None:
    ledger.book_funding(funding("10000"))
    ledger.book_fill(fill("f1", "buy", "0.1", "40000", fee="4"))
    ledger.book_fill(fill("f2", "buy", "0.1", "42000", fee="4.2"))
    ledger.book_fill(fill("f3", "sell", "0.15", "45000", fee="6.75"))
    pos = ledger.position(ACCOUNT, SYMBOL)
    assert pos.quantity == Decimal("0.05")
    assert pos.entry_cost == Decimal("2100")  # FIFO: the newest lot's rest, 0.05 at 42000
    assert pos.average_entry_price == Decimal("42000")
    # (45000 - 40000) x 0.1 + (45000 - 42000) x 0.05 - fees 14.95
    assert pos.realized_pnl == Decimal("635.05")
    assert pos.unrealized_pnl(Decimal("44000")) == Decimal("100")
    cash = Decimal(10000) - 4000 - 4 - 4200 - Decimal("4.2") + 6750 - Decimal("6.75")
    assert ledger.balances(ACCOUNT) == {"BTC": Decimal("0.05"), "USDT": cash}
    assert ledger.equity(ACCOUNT, {SYMBOL: Decimal("44000")}, "USDT") == cash + 2200
    assert ledger.state(ACCOUNT).positions[SYMBOL] == pos
    assert ledger.position(ACCOUNT, "ETH/USDT").quantity == 0
    with pytest.raises(BadInput) as caught:
        ledger.equity(ACCOUNT, {}, "USDT")
    assert caught.value.code == "ledger_mark_missing"


def test_a_closed_round_trip_realizes_the_backtests_trade_pnl(ledger: Ledger) -> None:
    """Entry notional + fee is the cash committed; exit notional - fee comes back."""
    ledger.book_funding(funding("10000"))
    entry = fill_transaction(fill("f1", "buy", "0.2", "50025", fee="10.005"))
    ledger.book(entry)
    ledger.book_fill(fill("f2", "sell", "0.2", "51974.5", fee="10.3949"))
    pnl = Decimal("0.2") * Decimal("51974.5") - Decimal("10.3949") - (10005 + Decimal("10.005"))
    assert ledger.position(ACCOUNT, SYMBOL).realized_pnl == pnl
    assert ledger.balances(ACCOUNT) == {"USDT": 10000 + pnl}


def test_reads_take_in_only_what_was_booked_since(ledger: Ledger, db: Path) -> None:
    """The running totals are topped up by seq, not recomputed: an edit to a row already read
    does not move them (verify is what catches edits), while a row booked since does."""
    ledger.book_funding(funding("100"))
    assert ledger.balances(ACCOUNT) == {"USDT": Decimal(100)}
    conn = raw(db)
    try:
        conn.execute("DROP TRIGGER ledger_postings_no_update")
        conn.execute("UPDATE ledger_postings SET amount = '999' WHERE tx_seq = 1 AND line = 0")
    finally:
        conn.close()
    ledger.book_fill(fill("f1", "buy", "1", "10"))
    assert ledger.balances(ACCOUNT) == {"BTC": Decimal(1), "USDT": Decimal(90)}
    with open_ledger(db) as fresh:  # a full read from seq 0 sees the edited row
        assert fresh.balances(ACCOUNT)["USDT"] == Decimal(989)
    assert not ledger.verify().ok


def test_a_read_only_ledger_refuses_to_book(ledger: Ledger, db: Path) -> None:
    ledger.book_funding(funding("100"))
    with open_ledger(db, readonly=True) as reader:
        assert reader.balances(ACCOUNT) == {"USDT": Decimal(100)}
        with pytest.raises(RaraError) as caught:
            reader.book_funding(funding("1", tx_id="fund:2"))
        assert caught.value.code == "ledger_read_only"


def test_an_average_price_that_is_no_finite_decimal_is_shown_rounded(ledger: Ledger) -> None:
    ledger.book_fill(fill("f1", "buy", "1", "1"))
    ledger.book_fill(fill("f2", "buy", "2", "2"))
    pos = ledger.position(ACCOUNT, SYMBOL)
    assert pos.entry_cost == 5 and pos.quantity == 3  # exact; only the division rounds
    assert pos.average_entry_price == Decimal("1.666666666666666666666666666666667")


def test_writers_on_two_connections_book_each_fill_once(db: Path) -> None:
    """Two connections (as two processes would) book overlapping fills at once: BEGIN IMMEDIATE
    serialises them, so the chain never forks and no fill is booked twice."""
    fills = [fill(f"f{i}", "buy", "0.001", str(40000 + i)) for i in range(60)]
    results: dict[str, list[bool]] = {}

    def book_all(name: str, order: list[int]) -> None:
        with open_ledger(db) as mine:
            results[name] = [mine.book_fill(fills[i]) for i in order]

    open_ledger(db).close()  # the schema first, so both writers find it
    threads = [
        threading.Thread(target=book_all, args=("up", list(range(60)))),
        threading.Thread(target=book_all, args=("down", list(range(59, -1, -1)))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sum(results["up"]) + sum(results["down"]) == 60
    with open_ledger(db) as after:
        assert after.last_seq() == 60
        assert after.position(ACCOUNT, SYMBOL).quantity == Decimal("0.06")
        assert after.verify().ok
