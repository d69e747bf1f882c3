"""`PollingFeed` against the Binance emulator over real HTTP, on the emulator's clock: never the
forming bar, every closed bar once and in order after a pause, failed polls survived, and a
halted venue reported stale after two intervals until bars flow again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rara.config import DataSettings, load_settings
from rara.domain.market import Instrument, Timeframe, parse_utc
from rara.errors import BadInput
from rara.home import Home
from rara.trading.feed import ClosedBar, FeedBatch
from rara.trading.feeds import PollingFeed
from rara.trading_settings import FeedSettings
from tests.emulators.exchange import BinanceEmulator

HOUR = 3_600_000
BTC = Instrument(exchange="binance", symbol="BTC/USDT", timeframe=Timeframe.parse("1h"))
WAIT_S = 30.0  # for a bar that is due: returned as soon as it is fetched
IDLE_S = 0.05  # for a bar that is not: the feed polls (or not) for this long, then says so


def at(text: str) -> int:
    return parse_utc("2024-03-01T" + text)


@pytest.fixture
def emu() -> Iterator[BinanceEmulator]:
    with BinanceEmulator(now_ms=at("10:20")) as emulator:
        yield emulator


def polling_feed(emu: BinanceEmulator, **data: object) -> PollingFeed:
    settings = DataSettings.model_validate(
        {
            "rate_limit_ms": 1,
            "request_timeout_ms": 20_000,
            "url_overrides": {"binance": {"public": emu.api_url}},
            **data,
        }
    )
    feed = FeedSettings(poll_interval_s=0.01, close_delay_s=0, retry_max_s=0.05)
    return PollingFeed(BTC, settings, feed, clock=emu.now)


def rows(bars: tuple[ClosedBar, ...] | list[ClosedBar]) -> np.ndarray:
    return np.array(
        [[b.open_ms, b.open, b.high, b.low, b.close, b.volume] for b in bars], dtype=np.float64
    ).reshape(-1, 6)


def closed(emu: BinanceEmulator, start: int, end: int) -> np.ndarray:
    return emu.closed_bars("BTCUSDT", "1h", start, end)


def take(feed: PollingFeed, n: int, max_bars: int = 100) -> list[FeedBatch]:
    """Batches until ``n`` bars came (each call waits long enough for a due bar)."""
    batches: list[FeedBatch] = []
    while sum(len(b.bars) for b in batches) < n:
        batch = feed.next_batch(max_bars=max_bars, timeout_s=WAIT_S)
        assert batch.bars, "a due bar did not come"
        batches.append(batch)
    assert sum(len(b.bars) for b in batches) == n
    return batches


def test_the_forming_bar_is_never_emitted(emu: BinanceEmulator) -> None:
    feed = polling_feed(emu)
    warm = feed.history(5)  # at 10:20 the venue answers 05:00 .. 10:00, the last one forming
    assert [b.open_ms for b in warm] == [at(f"{h:02d}:00") for h in range(5, 10)]
    np.testing.assert_array_equal(rows(warm), closed(emu, at("05:00"), at("11:00")))
    final = None
    for now in (at("10:20"), at("10:40"), at("10:59:59.999")):
        emu.now_ms = now
        assert feed.next_batch(max_bars=10, timeout_s=IDLE_S).bars == ()
        served = emu.bars("BTCUSDT", "1h", at("10:00"), at("11:00"))
        assert served.shape == (1, 6)  # the venue has the 10:00 bar, still forming
        final = final if final is not None else served
        assert not np.array_equal(served, final) or now == at("10:20")
    emu.now_ms = at("11:00")  # it closes; the venue now also serves 11:00, forming
    assert emu.bars("BTCUSDT", "1h", at("10:00"), at("12:00")).shape == (2, 6)
    (batch,) = take(feed, 1)
    assert [b.open_ms for b in batch.bars] == [at("10:00")]
    truth = closed(emu, at("10:00"), at("12:00"))
    np.testing.assert_array_equal(rows(batch.bars), truth)  # final values, not partial ones
    assert truth[0, 5] > 0 and not np.array_equal(truth, final)
    assert batch.stale_since_ms is None and not batch.ended
    for now in (at("11:30"), at("11:59:59.999")):
        emu.now_ms = now
        assert feed.next_batch(max_bars=10, timeout_s=IDLE_S).bars == ()
    assert feed.last_bar_ms == at("10:00")


def test_after_a_pause_every_missed_bar_comes_once_in_order(emu: BinanceEmulator) -> None:
    feed = polling_feed(emu, page_limit=3)  # small pages: the catch-up takes several
    assert feed.next_batch(max_bars=10, timeout_s=IDLE_S).bars == ()  # starts after 09:00
    emu.now_ms = at("17:30")  # the reader was away: 10:00 .. 16:00 closed meanwhile
    batches = take(feed, 7, max_bars=2)
    assert [len(b.bars) for b in batches] == [2, 2, 2, 1]
    got = [bar for b in batches for bar in b.bars]
    np.testing.assert_array_equal(rows(got), closed(emu, at("10:00"), at("17:00")))
    assert all(b.stale_since_ms is None for b in batches)
    emu.now_ms = at("20:00:00.001")
    more = [bar for b in take(feed, 3) for bar in b.bars]
    assert [b.open_ms for b in more] == [at("17:00"), at("18:00"), at("19:00")]
    assert feed.next_batch(max_bars=10, timeout_s=IDLE_S).bars == ()
    # Each request asked from the bar after the last one the feed had.
    starts = [r.start_time for r in emu.klines_calls()]
    assert starts == sorted(starts) and starts[0] == at("10:00")


def test_a_feed_resumed_after_a_bar_emits_what_it_missed(emu: BinanceEmulator) -> None:
    emu.now_ms = at("14:10")
    settings = DataSettings(url_overrides={"binance": {"public": emu.api_url}}, rate_limit_ms=1)
    feed = PollingFeed(
        BTC, settings, FeedSettings(poll_interval_s=0.01), after_ms=at("10:00"), clock=emu.now
    )
    assert [b.open_ms for b in feed.history(3)] == [at("08:00"), at("09:00"), at("10:00")]
    # close_delay_s defaults to 2 s: the 13:00 bar, closed at 14:00, is settled by 14:10
    got = [bar for b in take(feed, 3) for bar in b.bars]
    np.testing.assert_array_equal(rows(got), closed(emu, at("11:00"), at("14:00")))
    emu.now_ms = at("15:00:01.999")  # closed, not settled yet
    assert feed.next_batch(max_bars=10, timeout_s=IDLE_S).bars == ()
    emu.now_ms = at("15:00:02")
    assert [b.open_ms for b in take(feed, 1)[0].bars] == [at("14:00")]


def test_failed_polls_are_retried_and_the_feed_survives(emu: BinanceEmulator) -> None:
    feed = polling_feed(emu, request_timeout_ms=1_000)
    assert feed.next_batch(max_bars=10, timeout_s=IDLE_S).bars == ()
    emu.now_ms = at("11:30")  # the 10:00 bar is due (and the feed not stale yet: 12:00)
    k = len(emu.klines_calls())
    emu.fail(k + 1, 503)
    hang = emu.hang(k + 2)  # answered after the client's timeout
    emu.fail(k + 3, 429, retry_after="0")
    emu.fail(k + 4, 500)
    (batch,) = take(feed, 1)
    np.testing.assert_array_equal(rows(batch.bars), closed(emu, at("10:00"), at("11:00")))
    assert hang.entered.is_set()
    calls = emu.klines_calls()[k:]
    assert [c.status for c in calls[:1] + calls[2:4]] == [503, 429, 500]
    assert calls[-1].status == 200  # (a loaded machine may time out a few more: retried too)
    assert len({c.start_time for c in calls}) == 1  # each retry asked for the same bars


def test_a_halted_venue_is_stale_after_two_intervals_until_bars_flow(
    emu: BinanceEmulator,
) -> None:
    feed = polling_feed(emu)
    assert len(feed.history(3)) == 3  # the feed starts after 09:00
    emu.now_ms = at("11:00")
    assert [b.open_ms for b in take(feed, 1)[0].bars] == [at("10:00")]
    emu.now_ms = at("11:30")
    emu.freeze()  # trading halts inside the 11:00 bar; the venue keeps answering
    emu.now_ms = at("12:00")
    (batch,) = take(feed, 1)  # the 11:00 bar closes with what it traded until the halt
    np.testing.assert_array_equal(rows(batch.bars), closed(emu, at("11:00"), at("12:00")))
    assert batch.stale_since_ms is None
    emu.now_ms = at("13:59:59.999")
    quiet = feed.next_batch(max_bars=10, timeout_s=IDLE_S)
    assert quiet.bars == () and quiet.stale_since_ms is None
    emu.now_ms = at("14:00")  # two intervals after the last bar closed (12:00)
    turned = feed.next_batch(max_bars=10, timeout_s=WAIT_S)  # returns as it turns stale
    assert turned.bars == () and turned.stale_since_ms == at("14:00")
    emu.now_ms = at("16:10")
    still = feed.next_batch(max_bars=10, timeout_s=IDLE_S)
    assert still.bars == () and still.stale_since_ms == at("14:00")
    emu.resume()  # trading goes on; the next bar opens at 17:00
    emu.now_ms = at("17:30")
    assert feed.next_batch(max_bars=10, timeout_s=IDLE_S).stale_since_ms == at("14:00")
    emu.now_ms = at("18:00")
    (back,) = take(feed, 1)
    assert [b.open_ms for b in back.bars] == [at("17:00")]
    assert back.stale_since_ms is None
    # The halt's bars never existed: the feed skipped nothing the venue has.
    assert closed(emu, at("11:00"), at("18:00"))[:, 0].tolist() == [at("11:00"), at("17:00")]


def test_an_unlisted_symbol_is_an_error_not_a_retry(emu: BinanceEmulator) -> None:
    settings = DataSettings(url_overrides={"binance": {"public": emu.api_url}}, rate_limit_ms=1)
    doge = Instrument(exchange="binance", symbol="DOGE/USDT", timeframe=Timeframe.parse("1h"))
    feed = PollingFeed(doge, settings, clock=emu.now)
    with pytest.raises(BadInput) as err:
        feed.history(10)
    assert err.value.code == "unknown_symbol"
    assert emu.klines_calls() == []


def test_the_feed_settings_are_trading_feed_in_config(rara_home: Path) -> None:
    rara_home.mkdir(parents=True, exist_ok=True)
    (rara_home / "config.toml").write_text(
        "[trading.feed]\npoll_interval_s = 2.5\nstale_after_intervals = 3\n", encoding="utf-8"
    )
    env = {"RARA_TRADING__FEED__CLOSE_DELAY_S": "0.5"}
    feed = load_settings(Home(root=rara_home), environ=env).trading.feed
    assert feed == FeedSettings(poll_interval_s=2.5, stale_after_intervals=3, close_delay_s=0.5)
    assert feed.retry_max_s == 60.0


@settings(max_examples=8, deadline=None, derandomize=True)
@given(
    start=st.integers(0, 3_599_999),
    steps=st.lists(st.integers(0, 4 * HOUR), min_size=1, max_size=5),
    page_limit=st.integers(2, 5),
    max_bars=st.integers(1, 4),
    delay_s=st.sampled_from([0.0, 2.0]),
)
def test_whatever_the_clock_does_each_closed_bar_comes_once_in_order(
    start: int, steps: list[int], page_limit: int, max_bars: int, delay_s: float
) -> None:
    with BinanceEmulator(now_ms=at("00:00") + start) as emu:
        settings = DataSettings(
            url_overrides={"binance": {"public": emu.api_url}},
            rate_limit_ms=1,
            page_limit=page_limit,
        )
        feed = PollingFeed(
            BTC,
            settings,
            FeedSettings(poll_interval_s=0.01, close_delay_s=delay_s, retry_max_s=0.05),
            clock=emu.now,
        )
        first = feed.history(2)[-1].open_ms + HOUR  # the first bar next_batch returns
        got: list[ClosedBar] = []
        for step in steps:
            emu.now_ms = emu.now() + step
            while bars := feed.next_batch(max_bars=max_bars, timeout_s=0.02).bars:
                assert len(bars) <= max_bars
                got += bars
        settled = closed(emu, first, emu.now() - round(delay_s * 1000) - HOUR + 1)
        np.testing.assert_array_equal(rows(got), settled)
