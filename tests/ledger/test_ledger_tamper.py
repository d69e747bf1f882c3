"""An edit to a ledger row is caught by `Ledger.verify` and by `rara ledger verify`, naming the
transaction; a corrupt amount is a clear error, never a crash."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from rara.errors import RaraError
from rara.events import open_event_store
from rara.ledger import Ledger, open_ledger
from tests.kit.cli import CliResult
from tests.ledger.books import ACCOUNT, fill, funding, log_and_book, raw, tamper

Cli = Callable[..., CliResult]
TX2 = "fill:binance:paper:run-1:f1"


def book_some(ledger: Ledger) -> None:
    ledger.book_funding(funding("10000"))
    ledger.book_fill(fill("f1", "buy", "0.1", "40000", fee="4"))  # seq 2
    ledger.book_fill(fill("f2", "sell", "0.1", "41000", fee="4.1"))


def problems(db: Path) -> list[tuple[str, int | None, str | None]]:
    with open_ledger(db, readonly=True) as fresh:
        report = fresh.verify()
    assert not report.ok and report.reason
    return [(p.problem, p.seq, p.tx_id) for p in report.problems]


def test_an_edited_amount_is_caught_naming_the_transaction(
    ledger: Ledger, db: Path, cli: Cli
) -> None:
    book_some(ledger)
    assert ledger.verify().ok
    tamper(db, "UPDATE ledger_postings SET amount = '0.2' WHERE tx_seq = 2 AND line = 0")
    found = problems(db)
    assert ("hash_mismatch", 2, TX2) in found
    assert ("unbalanced", 2, TX2) in found
    assert ("postings_mismatch", 2, TX2) in found
    assert ("trial_balance", None, None) in found
    assert ("triggers_missing", None, None) in found
    with open_ledger(db) as reopened:  # opening to write does not hide the dropped trigger
        assert "triggers_missing" in {p.problem for p in reopened.verify().problems}
    r = cli("ledger", "verify")
    assert r.code == 1, r.stdout + r.stderr
    err = r.error
    assert err["code"] == "ledger_broken"
    assert f"transaction seq 2 ({TX2})" in err["message"]
    assert "does not match its hash" in err["message"]
    assert r.json["report"]["problems"][0]["tx_id"] == TX2


def test_an_edit_with_every_hash_recomputed_is_still_caught(ledger: Ledger, db: Path) -> None:
    """Rewriting both legs of a trade and then the chain keeps each transaction balanced, but
    the fill's detail no longer matches its postings, and the venue disagrees."""
    book_some(ledger)
    tamper(db, "UPDATE ledger_postings SET amount = '0.05' WHERE tx_seq = 2 AND line = 0")
    tamper(db, "UPDATE ledger_postings SET amount = '-0.05' WHERE tx_seq = 2 AND line = 1")
    with open_ledger(db) as fresh:
        report = fresh.verify()
    assert [(p.problem, p.seq) for p in report.problems if p.seq is not None] == [
        ("hash_mismatch", 2),
        ("postings_mismatch", 2),
    ]


def test_an_edited_detail_and_a_deleted_row_are_caught(ledger: Ledger, db: Path) -> None:
    book_some(ledger)
    tamper(db, "UPDATE ledger_transactions SET detail = replace(detail, '40000', '30000')")
    conn = raw(db)
    try:
        conn.execute("DROP TRIGGER ledger_transactions_no_delete")
        conn.execute("DELETE FROM ledger_transactions WHERE seq = 1")
    finally:
        conn.close()
    found = problems(db)
    assert ("hash_mismatch", 2, TX2) in found
    assert ("seq_gap", 2, TX2) in found
    assert ("prev_hash_mismatch", 2, TX2) in found
    assert ("orphan_postings", 1, None) in found


def test_a_posting_added_to_the_newest_transaction_is_caught(ledger: Ledger, db: Path) -> None:
    book_some(ledger)
    conn = raw(db)
    try:  # the triggers let a posting of the head transaction in: its hash does not
        conn.execute("INSERT INTO ledger_postings VALUES (3, 6, 'x', 'USDT', '0')")
    finally:
        conn.close()
    found = problems(db)
    assert ("hash_mismatch", 3, "fill:binance:paper:run-1:f2") in found


@pytest.mark.parametrize("bad", ["abc", "1e5", "0.10", "-0", "12.5.1", " 1"])
def test_a_corrupt_amount_is_a_clear_error(ledger: Ledger, db: Path, cli: Cli, bad: str) -> None:
    book_some(ledger)
    tamper(db, "UPDATE ledger_postings SET amount = ? WHERE tx_seq = 2 AND line = 2", bad)
    assert ("bad_amount", 2, TX2) in problems(db)
    with open_ledger(db) as fresh, pytest.raises(RaraError) as caught:
        fresh.balances(ACCOUNT)
    assert caught.value.code == "ledger_row_corrupt"
    assert f"seq 2 ({TX2})" in caught.value.message and "not a canonical decimal" in str(
        caught.value
    )
    if bad == "abc":  # the CLI once: a subprocess costs a second
        r = cli("ledger", "balances")
        assert r.code == 1 and r.error["code"] == "ledger_row_corrupt", r.stdout + r.stderr


def test_a_real_written_over_an_amount_is_caught(ledger: Ledger, db: Path) -> None:
    book_some(ledger)
    tamper(db, "UPDATE ledger_postings SET amount = 4000.0 WHERE tx_seq = 2 AND line = 2")
    assert ("bad_amount", 2, TX2) in problems(db)


def test_the_venue_disagreeing_is_caught_naming_the_accounts_last_transaction(
    ledger: Ledger,
) -> None:
    book_some(ledger)
    held = ledger.balances(ACCOUNT)
    assert ledger.verify({ACCOUNT: held}).ok
    assert ledger.verify({ACCOUNT: {**held, "BTC": Decimal(0)}}).ok  # zero is not holding
    report = ledger.verify({ACCOUNT: {**held, "USDT": held["USDT"] + 1}})
    assert not report.ok
    [p] = report.problems
    assert (p.problem, p.seq, p.tx_id) == ("venue_mismatch", 3, "fill:binance:paper:run-1:f2")
    assert "USDT" in p.detail


def test_cli_balances_and_verify_on_sound_books(db: Path, cli: Cli) -> None:
    with open_event_store(db) as store, open_ledger(db) as ledger:
        log_and_book(
            store,
            ledger,
            [
                funding("10000"),
                fill("f1", "buy", "0.1", "40000", fee="4"),
                fill("f2", "sell", "0.1", "41000", fee="4.1"),
                funding("5", tx_id="fund:other", account="paper:run-2"),
            ],
        )
    r = cli("ledger", "balances")
    assert r.code == 0, r.stderr
    assert r.json == {
        "last_seq": 4,
        "accounts": {ACCOUNT: {"USDT": "10091.9"}, "paper:run-2": {"USDT": "5"}},
    }
    r = cli("ledger", "verify", "--account", "paper:run-2")
    assert r.code == 0, r.stderr
    assert r.json["ok"] is True and r.json["transactions_checked"] == 4
    assert r.json["events_checked"] == 4
    assert r.json["trial_balance"] == {"BTC": "0", "USDT": "0"}
    assert r.json["accounts"] == {"paper:run-2": {"USDT": "5"}}
    r = cli("ledger", "balances", "--account", "paper:run-3")
    assert r.code == 2 and r.error["code"] == "ledger_unknown_account"


def test_cli_verify_names_a_booking_the_log_lacks(ledger: Ledger, cli: Cli) -> None:
    book_some(ledger)  # booked straight into the ledger, never logged
    r = cli("ledger", "verify")
    assert r.code == 1 and r.error["code"] == "ledger_broken"
    assert "transaction seq 1 (fund:1): no event in the log books it" in r.error["message"]
    r = cli("ledger", "verify", "--no-against-log")
    assert r.code == 0, r.stdout
    assert r.json["events_checked"] is None


@pytest.mark.parametrize("detail", ["{}", "not json", '{"side": "hold", "symbol": "BTC/USDT"}'])
def test_a_fill_whose_detail_cannot_be_read_is_a_clear_error(
    ledger: Ledger, db: Path, detail: str
) -> None:
    book_some(ledger)
    tamper(db, "UPDATE ledger_transactions SET detail = ? WHERE seq = 2", detail)
    found = {(p, s) for p, s, _ in problems(db)}
    assert ("hash_mismatch", 2) in found or ("bad_row", 2) in found
    with open_ledger(db, readonly=True) as fresh, pytest.raises(RaraError) as caught:
        fresh.state(ACCOUNT)
    assert caught.value.code == "ledger_row_corrupt" and f"seq 2 ({TX2})" in caught.value.message
