"""The sentinel over real HTTP: a feed served on 127.0.0.1 that publishes a critical item locks
the named symbol in the risk gate within one poll; seen items are not raised again (a 304, the
log's ids, a restart); a broken feed is an event and the poll goes on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rara.daemon_settings import SentinelSettings
from rara.domain.events import SentinelSignalDetected, SentinelSourceFailed, TradingLockSet
from rara.events import EventFilter, EventStore, open_event_store
from rara.home import Home
from rara.sentinel import Sentinel
from rara.trading.control import Control
from rara.trading.risk import Allow, Deny, judge
from rara.trading_settings import RiskSettings
from tests.sentinel.feedserver import (
    NOW,
    H,
    account,
    closed_port_url,
    feed_server,
    intent,
    rss,
    rss_dated,
    silent_server,
)

TRADED = ("BTC/USDT", "ETH/USDT")
CRITICAL = ("g-2", "Exchange hack drains bitcoin hot wallet")


@pytest.fixture
def store(rara_home: Path) -> Iterator[EventStore]:
    rara_home.mkdir(parents=True, exist_ok=True)
    with open_event_store(Home.from_env().state_db) as s:
        yield s


def sentinel_on(store: EventStore, *feeds: str, **settings: object) -> Sentinel:
    return Sentinel(
        store,
        SentinelSettings(feeds=feeds, **settings),  # type: ignore[arg-type]
        traded_symbols=lambda: TRADED,
        clock_ms=lambda: NOW,
    )


def signals(store: EventStore) -> list[SentinelSignalDetected]:
    out = [e.typed() for e in store.query(EventFilter(types=[SentinelSignalDetected]))]
    return [s for s in out if isinstance(s, SentinelSignalDetected)]


def failures(store: EventStore) -> list[SentinelSourceFailed]:
    out = [e.typed() for e in store.query(EventFilter(types=[SentinelSourceFailed]))]
    return [f for f in out if isinstance(f, SentinelSourceFailed)]


def test_a_critical_item_locks_its_symbol_within_one_poll(store: EventStore) -> None:
    limits = RiskSettings()
    with feed_server() as feed:
        feed.publish(rss(("g-1", "Markets calm as ether holds its range")))
        sentinel = sentinel_on(store, feed.url)
        try:
            first = sentinel.poll_once()
            assert [(s.signal, s.symbol) for s in first] == [("news_info", "ETH/USDT")]
            assert isinstance(
                judge(
                    Control(store).snapshot(NOW), account(NOW), intent("BTC/USDT", "buy"), limits
                ),
                Allow,
            )

            feed.publish(rss(("g-1", "Markets calm as ether holds its range"), CRITICAL))
            raised = sentinel.poll_once()
            assert [(s.signal, s.severity, s.symbol) for s in raised] == [
                ("news_critical", "critical", "BTC/USDT")
            ]
            assert "Exchange hack drains bitcoin hot wallet" in raised[0].detail

            gate = Control(store).snapshot(NOW)
            verdict = judge(gate, account(NOW), intent("BTC/USDT", "buy"), limits)
            assert isinstance(verdict, Deny) and verdict.code == "locked"
            assert isinstance(judge(gate, account(NOW), intent("BTC/USDT", "sell"), limits), Allow)
            assert isinstance(judge(gate, account(NOW), intent("ETH/USDT", "buy"), limits), Allow)
            (lock,) = Control(store).locks(NOW)
            assert lock.until_ms == NOW + int(SentinelSettings().lock_minutes * 60_000)
            assert lock.set_by == "sentinel"

            # the same document again: a conditional GET answered 304, nothing new
            seen = store.last_seq()
            assert sentinel.poll_once() == []
            assert feed.requests[-1].get("If-None-Match")
            assert store.last_seq() == seen
            # the same items without validators (a full 200): the log's ids dedup them
            feed.etags = False
            assert sentinel.poll_once() == []
            assert store.last_seq() == seen
        finally:
            sentinel.close()
        # a restarted sentinel (nothing in memory) raises nothing either
        again = sentinel_on(store, feed.url)
        try:
            assert again.poll_once() == []
        finally:
            again.close()
    assert store.last_seq() == seen
    assert [s.signal for s in signals(store)] == ["news_info", "news_critical"]
    assert len(store.query(EventFilter(types=[TradingLockSet]))) == 1
    assert store.verify().ok


def test_broken_feeds_are_events_and_the_poll_goes_on(store: EventStore) -> None:
    with feed_server() as bad, feed_server() as good, silent_server() as silent:
        bad.publish(b"<html><body>this is not a feed", status=200)
        good.publish(rss(("x-1", "Bitcoin insolvency rumours at a lender")))
        unreachable = closed_port_url()
        sentinel = sentinel_on(store, bad.url, silent, unreachable, good.url, request_timeout_s=0.5)
        try:
            raised = sentinel.poll_once()  # returns normally
            assert [(s.signal, s.symbol) for s in raised] == [("news_critical", "BTC/USDT")]
            bad.publish(b"", status=500)
            assert sentinel.poll_once() == []
        finally:
            sentinel.close()
    got = [(f.source, f.kind, f.code, f.consecutive) for f in failures(store)]
    assert got == [
        (bad.url, "feed", "malformed", 1),
        (silent, "feed", "timeout", 1),
        (unreachable, "feed", "unreachable", 1),
        (bad.url, "feed", "http_500", 2),
        (silent, "feed", "timeout", 2),
        (unreachable, "feed", "unreachable", 2),
    ]


def test_a_feed_that_recovers_counts_from_one_again(store: EventStore) -> None:
    with feed_server() as feed:
        feed.publish(b"", status=503)
        sentinel = sentinel_on(store, feed.url)
        try:
            sentinel.poll_once()
            feed.publish(rss(("a", "quiet day")))
            sentinel.poll_once()
            feed.publish(b"", status=503)
            sentinel.poll_once()
        finally:
            sentinel.close()
    assert [(f.code, f.consecutive) for f in failures(store)] == [("http_503", 1), ("http_503", 1)]


def test_a_local_file_feed(store: EventStore, tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(rss(("w-1", "Ethereum bridge exploit; withdrawals suspended")))
    missing = tmp_path / "nope.xml"
    sentinel = sentinel_on(store, str(path), str(missing), reduce_on_critical=True)
    try:
        raised = sentinel.poll_once()
        assert [(s.signal, s.symbol) for s in raised] == [("news_critical", "ETH/USDT")]
        assert sentinel.poll_once() == []
    finally:
        sentinel.close()
    assert Control(store).state == "REDUCING"  # reduce_on_critical
    assert [(f.code, f.consecutive) for f in failures(store)] == [
        ("unreadable", 1),
        ("unreadable", 2),
    ]


def test_old_critical_news_is_recorded_but_locks_nothing(store: EventStore, tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(rss_dated("o-1", "Bitcoin exchange hacked", NOW - 48 * H))
    sentinel = sentinel_on(store, str(path))
    try:
        (raised,) = sentinel.poll_once()
    finally:
        sentinel.close()
    assert raised.severity == "critical" and raised.symbol == "BTC/USDT"
    assert Control(store).locks() == ()


def test_market_wide_news_has_no_symbol(store: EventStore, tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(rss(("m-1", "A large exchange halts withdrawals")))
    sentinel = sentinel_on(store, str(path))
    try:
        (raised,) = sentinel.poll_once()
    finally:
        sentinel.close()
    assert (raised.severity, raised.symbol) == ("critical", None)
    assert Control(store).locks() == ()
