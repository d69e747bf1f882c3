"""The ledger rebuilt from the event log equals the one booked live; a second pass books nothing;
a ledger that fell behind the log catches up."""

from __future__ import annotations

from pathlib import Path

from rara.domain.events import EventPayload
from rara.events import open_event_store
from rara.ledger import catch_up, open_ledger, rebuild_from_events
from tests.kit.clock import stepping_clock
from tests.ledger.books import ACCOUNT, SYMBOL, fill, funding, log_and_book

OTHER = "paper:run-2"


def session() -> list[EventPayload]:
    return [
        funding("10000"),
        fill("f1", "buy", "0.2", "40000.5", fee="8.0001"),
        funding("500", tx_id="fund:2", account=OTHER),
        fill("f2", "sell", "0.05", "41000.25", fee="2.0500125"),
        fill("o1", "buy", "0.01", "40000", fee="0.00001", fee_currency="BTC", account=OTHER),
        fill("f3", "sell", "0.15", "39000", fee="5.85"),
    ]


def test_a_rebuild_from_the_log_equals_the_books_kept_live(rara_home: Path) -> None:
    live_db = rara_home / "rara.db"
    with open_event_store(live_db, clock=stepping_clock()) as store, open_ledger(live_db) as live:
        log_and_book(store, live, session())
        rebuilt_db = rara_home / "rebuilt" / "rara.db"
        first = rebuild_from_events(store, rebuilt_db)
        assert (first.events, first.booked, first.already_booked) == (6, 6, 0)
        again = rebuild_from_events(store, rebuilt_db)
        assert (again.booked, again.already_booked) == (0, 6)
        # the live ledger already holds every event: catching it up books nothing
        assert catch_up(live, store).booked == 0
        with open_ledger(rebuilt_db) as rebuilt:
            for account in (ACCOUNT, OTHER):
                assert rebuilt.balances(account) == live.balances(account)
                assert rebuilt.position(account, SYMBOL) == live.position(account, SYMBOL)
            # booked in the same order, the chain is the same chain
            assert rebuilt.verify().head_hash == live.verify().head_hash
            assert rebuilt.verify().ok


def test_a_ledger_behind_the_log_catches_up(rara_home: Path) -> None:
    db = rara_home / "rara.db"
    payloads = session()
    with open_event_store(db, clock=stepping_clock()) as store, open_ledger(db) as ledger:
        log_and_book(store, ledger, payloads[:3])
        # a crash between logging the next fills and booking them
        for payload in payloads[3:]:
            store.append(payload, source="trading", correlation_id="run-1")
        done = catch_up(ledger, store)
        assert (done.booked, done.already_booked) == (3, 3)
        assert done.last_event_seq == store.last_seq()
        # what is logged after the last pass, from its seq on
        extra = fill("f4", "buy", "0.1", "38000", fee="3.8")
        store.append(extra, source="trading", correlation_id="run-1")
        assert catch_up(ledger, store, after_seq=done.last_event_seq).booked == 1
        assert ledger.position(ACCOUNT, SYMBOL).fills == 4
        assert ledger.verify().ok


def test_verify_against_the_log_catches_lost_and_unlogged_transactions(rara_home: Path) -> None:
    db = rara_home / "rara.db"
    with open_event_store(db, clock=stepping_clock()) as store, open_ledger(db) as ledger:
        log_and_book(store, ledger, session())
        report = ledger.verify(events=store)
        assert report.ok and report.events_checked == 6
        # booked without an event: nobody logged it
        ledger.book_fill(fill("ghost", "buy", "1", "1"))
        # logged but never booked: a ledger that lost its newest transaction looks like this
        store.append(fill("late", "buy", "0.01", "40000"), source="trading")
        report = ledger.verify(events=store)
        assert ledger.verify().ok  # the books alone are sound
    assert [(p.problem, p.seq, p.tx_id) for p in report.problems] == [
        ("event_not_booked", None, "fill:binance:paper:run-1:late"),
        ("tx_without_event", 7, "fill:binance:paper:run-1:ghost"),
    ]
