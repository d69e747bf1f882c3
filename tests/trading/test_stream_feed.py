"""`StreamingFeed` through real ccxt.pro against the WebSocket emulator, REST against the Binance
emulator, both on the emulator's clock: closed bars only, in order, each once (a reconnect's
resend dropped), a gap the stream skipped filled from REST before the later bar, a dead socket
carried by REST until it reconnects, staleness while the market is halted, and the factory's
choice between streaming and polling."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from rara.config import DataSettings
from rara.domain.market import Instrument, Timeframe, parse_utc
from rara.trading.feed import ClosedBar
from rara.trading.feeds import PollingFeed, StreamingFeed, open_live_feed
from rara.trading_settings import FeedSettings
from tests.emulators.exchange import BinanceEmulator
from tests.emulators.exchange_ws import BinanceWsEmulator

HOUR = 3_600_000
BTC = Instrument(exchange="binance", symbol="BTC/USDT", timeframe=Timeframe.parse("1h"))
WAIT_S = 60.0  # for something that is due: generous, returned as soon as it comes
IDLE_S = 0.2  # for a bar that is not due: the feed is given this long to (wrongly) emit it
SLOW_REST_S = 600.0  # a poll interval no test reaches: REST is asked only for gaps


def at(text: str) -> int:
    return parse_utc("2024-03-01T" + text)


@pytest.fixture
def emu() -> Iterator[BinanceEmulator]:
    with BinanceEmulator(now_ms=at("10:20")) as emulator:
        yield emulator


@pytest.fixture
def ws(emu: BinanceEmulator) -> Iterator[BinanceWsEmulator]:
    with BinanceWsEmulator(emu) as server:
        yield server


def data_settings(emu: BinanceEmulator) -> DataSettings:
    return DataSettings.model_validate(
        {
            "rate_limit_ms": 1,
            "request_timeout_ms": 20_000,
            "url_overrides": {"binance": {"public": emu.api_url}},
        }
    )


def ws_urls(ws: BinanceWsEmulator) -> dict[str, str]:
    return {"binance": ws.ws_url}


OpenFeed = Callable[..., StreamingFeed]


@pytest.fixture
def open_feed(emu: BinanceEmulator, ws: BinanceWsEmulator) -> Iterator[OpenFeed]:
    feeds: list[StreamingFeed] = []

    def make(
        poll_interval_s: float, stale_after_intervals: float = 2.0, after_ms: int | None = None
    ) -> StreamingFeed:
        settings = FeedSettings(
            poll_interval_s=poll_interval_s,
            close_delay_s=0,
            retry_max_s=0.2,
            stale_after_intervals=stale_after_intervals,
            ws_url_overrides=ws_urls(ws),
        )
        feed = open_live_feed(BTC, data_settings(emu), settings, after_ms, clock=emu.now)
        assert isinstance(feed, StreamingFeed)
        feeds.append(feed)
        return feed

    yield make
    for feed in feeds:
        feed.close()


def rows(bars: list[ClosedBar]) -> np.ndarray:
    return np.array(
        [[b.open_ms, b.open, b.high, b.low, b.close, b.volume] for b in bars], dtype=np.float64
    ).reshape(-1, 6)


def closed(emu: BinanceEmulator, start: int, end: int) -> np.ndarray:
    return emu.closed_bars("BTCUSDT", "1h", start, end)


def take(feed: StreamingFeed, n: int) -> list[ClosedBar]:
    """The next ``n`` bars (each call waits long enough for a due bar)."""
    got: list[ClosedBar] = []
    while len(got) < n:
        batch = feed.next_batch(max_bars=n - len(got), timeout_s=WAIT_S)
        assert batch.bars, "a due bar did not come"
        got.extend(batch.bars)
    return got


def until(feed: StreamingFeed, done: Callable[[], bool]) -> None:
    """Read the feed (which takes what the socket says) until ``done``; no bar may come."""
    deadline = time.monotonic() + WAIT_S
    while not done():
        assert time.monotonic() < deadline, "the condition never held"
        assert feed.next_batch(max_bars=10, timeout_s=0.05).bars == ()


def rest_starts(emu: BinanceEmulator, since: int) -> list[int | None]:
    return [r.start_time for r in emu.klines_calls()[since:]]


def test_bars_arrive_closed_and_in_order_over_the_stream(
    emu: BinanceEmulator, ws: BinanceWsEmulator, open_feed: OpenFeed
) -> None:
    feed = open_feed(SLOW_REST_S)
    warm = feed.history(3)
    assert [b.open_ms for b in warm] == [at("07:00"), at("08:00"), at("09:00")]
    k = len(emu.klines_calls())
    until(feed, lambda: feed.streaming)
    for now in ("10:40", "10:59:59.999"):  # the 10:00 bar forms: the stream shows it, no more
        emu.now_ms = at(now)
        assert feed.next_batch(max_bars=10, timeout_s=IDLE_S).bars == ()
    assert {t for _, t, _ in ws.sent} == {at("10:00")}
    emu.now_ms = at("11:00")
    first = take(feed, 1)
    np.testing.assert_array_equal(rows(first), closed(emu, at("10:00"), at("11:00")))
    emu.now_ms = at("14:30")  # three closes at once: each bar once, in order, final values
    later = take(feed, 3)
    np.testing.assert_array_equal(rows(later), closed(emu, at("11:00"), at("14:00")))
    assert feed.next_batch(max_bars=10, timeout_s=IDLE_S).bars == ()  # 14:00 is forming
    assert rest_starts(emu, k) == []  # all of it came over the socket
    assert ws.connections == 1 and feed.reconnects == 0


def test_a_bar_resent_after_a_reconnect_is_emitted_once(
    emu: BinanceEmulator, ws: BinanceWsEmulator, open_feed: OpenFeed
) -> None:
    ws.resend_on_connect = 3  # every subscription repeats the last three closed bars
    emu.now_ms = at("12:20")
    feed = open_feed(SLOW_REST_S)
    feed.history(2)  # up to 11:00
    until(feed, lambda: feed.streaming)
    emu.now_ms = at("13:00")
    got = take(feed, 1)  # 12:00
    k = len(emu.klines_calls())
    ws.kill()  # the socket drops; the client reconnects and hears 10:00 .. 12:00 again
    until(feed, lambda: feed.reconnects == 1 and feed.streaming)  # heard it drop, then return
    assert ws.connections == 2
    assert feed.next_batch(max_bars=10, timeout_s=IDLE_S).bars == ()  # no repeat
    emu.now_ms = at("15:00")
    got += take(feed, 2)
    assert feed.next_batch(max_bars=10, timeout_s=IDLE_S).bars == ()
    np.testing.assert_array_equal(rows(got), closed(emu, at("12:00"), at("15:00")))
    resent = [t for conn, t, final in ws.sent if conn == 2 and final]
    assert resent[:3] == [at("10:00"), at("11:00"), at("12:00")]  # the duplicates did come
    assert rest_starts(emu, k) == []  # and the reconnect lost nothing REST had to fill


def test_bars_the_stream_skipped_come_from_rest_before_the_later_bar(
    emu: BinanceEmulator, ws: BinanceWsEmulator, open_feed: OpenFeed
) -> None:
    ws.drop(at("11:00"), at("12:00"))  # the server never sends the 11:00 bar
    feed = open_feed(SLOW_REST_S, stale_after_intervals=10)  # 13:30 is no stale spell here
    feed.history(1)
    until(feed, lambda: feed.streaming)
    k = len(emu.klines_calls())
    emu.fail(k + 1, 503)  # and the first REST ask for the gap fails: 12:00 must wait
    emu.now_ms = at("13:30")  # the socket shows 10:00 and 12:00 closing, then 13:00 forming
    got = take(feed, 3)
    assert rest_starts(emu, k) == [at("11:00"), at("11:00")]  # the gap, retried
    emu.now_ms = at("14:30")
    got += take(feed, 1)  # 13:00, from the socket
    np.testing.assert_array_equal(rows(got), closed(emu, at("10:00"), at("14:00")))
    assert len(rest_starts(emu, k)) == 2
    assert [t for _, t, _ in ws.sent if t >= at("10:00")] == [
        at("10:00"),  # forming at 10:20
        at("10:00"),  # final
        at("12:00"),
        at("13:00"),
        at("13:00"),
        at("14:00"),
    ]


def test_a_bar_the_venue_never_had_is_asked_for_once_per_stream_step(
    emu: BinanceEmulator, ws: BinanceWsEmulator, open_feed: OpenFeed
) -> None:
    emu.omit("BTCUSDT", at("11:00"), at("12:00"))  # an outage: no 11:00 bar anywhere
    feed = open_feed(SLOW_REST_S, stale_after_intervals=10)
    feed.history(1)
    until(feed, lambda: feed.streaming)
    k = len(emu.klines_calls())
    emu.now_ms = at("12:30")  # the socket shows 10:00 closing, then 12:00 forming
    got = take(feed, 1)
    assert feed.next_batch(max_bars=10, timeout_s=IDLE_S).bars == ()
    assert rest_starts(emu, k) == [at("11:00")]  # asked once, not on every wake-up
    emu.now_ms = at("13:30")  # 12:00 closes on the socket: asked again, and REST has it
    got += take(feed, 1)
    np.testing.assert_array_equal(rows(got), closed(emu, at("10:00"), at("13:00")))
    assert rest_starts(emu, k) == [at("11:00"), at("11:00")]


def test_a_disconnect_across_two_closes_is_filled_from_rest_before_the_later_bar(
    emu: BinanceEmulator, ws: BinanceWsEmulator, open_feed: OpenFeed
) -> None:
    feed = open_feed(SLOW_REST_S)  # the REST schedule plays no part: only the gap asks
    feed.history(1)
    until(feed, lambda: feed.streaming)
    ws.refuse = True
    ws.kill()
    until(feed, lambda: not feed.streaming and ws.refused > 0)
    k = len(emu.klines_calls())
    emu.now_ms = at("12:30")  # 10:00 and 11:00 close while the socket is down
    ws.refuse = False
    got = take(feed, 2)  # whichever asks first (REST while down, or the gap after), in order
    emu.now_ms = at("13:30")
    got += take(feed, 1)
    np.testing.assert_array_equal(rows(got), closed(emu, at("10:00"), at("13:00")))
    assert rest_starts(emu, k)[:1] == [at("10:00")]
    assert ws.connections == 2 and feed.reconnects == 1


def test_a_dead_socket_leaves_rest_carrying_the_feed_until_it_reconnects(
    emu: BinanceEmulator, ws: BinanceWsEmulator, open_feed: OpenFeed
) -> None:
    feed = open_feed(0.05)
    feed.history(1)
    until(feed, lambda: feed.streaming)
    emu.now_ms = at("11:00")
    got = take(feed, 1)
    ws.refuse = True  # the server is gone and stays gone
    ws.kill()
    k = len(emu.klines_calls())
    for now in ("12:00", "13:00", "14:00"):
        emu.now_ms = at(now)
        got += take(feed, 1)
    assert len(rest_starts(emu, k)) >= 3  # the bars came over REST
    until(feed, lambda: ws.refused >= 2)  # meanwhile the client keeps trying the socket
    assert not feed.streaming
    ws.refuse = False
    until(feed, lambda: feed.streaming)
    assert ws.connections == 2 and feed.reconnects == 1
    emu.now_ms = at("15:00")
    got += take(feed, 1)
    np.testing.assert_array_equal(rows(got), closed(emu, at("10:00"), at("15:00")))


def test_a_resumed_feed_catches_up_over_rest_then_streams(
    emu: BinanceEmulator, ws: BinanceWsEmulator, open_feed: OpenFeed
) -> None:
    emu.now_ms = at("14:10")  # down since the 10:00 bar: 11:00 .. 13:00 closed meanwhile
    feed = open_feed(SLOW_REST_S, stale_after_intervals=10, after_ms=at("10:00"))
    assert [b.open_ms for b in feed.history(2)] == [at("09:00"), at("10:00")]
    k = len(emu.klines_calls())
    got = take(feed, 3)  # over REST: the socket (if up yet) shows only 14:00 forming
    assert rest_starts(emu, k) == [at("11:00")]
    until(feed, lambda: feed.streaming)
    emu.now_ms = at("15:00")
    got += take(feed, 1)
    np.testing.assert_array_equal(rows(got), closed(emu, at("11:00"), at("15:00")))
    assert rest_starts(emu, k) == [at("11:00")] and feed.streaming


def test_a_halted_market_makes_the_feed_stale_while_the_socket_is_up(
    emu: BinanceEmulator, ws: BinanceWsEmulator, open_feed: OpenFeed
) -> None:
    feed = open_feed(0.05)
    feed.history(1)  # up to 09:00
    until(feed, lambda: feed.streaming)
    emu.freeze()  # the 10:00 bar closes with what it has at 10:20; nothing opens after it
    emu.now_ms = at("11:30")
    got = take(feed, 1)  # no newer bar on the socket: REST brings 10:00 when it is late
    np.testing.assert_array_equal(rows(got), closed(emu, at("10:00"), at("11:00")))
    emu.now_ms = at("13:00")  # two intervals after its close, no bar: stale
    deadline = time.monotonic() + WAIT_S
    while (batch := feed.next_batch(max_bars=10, timeout_s=1.0)).stale_since_ms is None:
        assert not batch.bars and time.monotonic() < deadline, "never reported stale"
    assert batch.stale_since_ms == at("13:00") and feed.streaming


def test_close_stops_the_socket_thread(
    emu: BinanceEmulator, ws: BinanceWsEmulator, open_feed: OpenFeed
) -> None:
    feed = open_feed(SLOW_REST_S)
    feed.history(1)
    until(feed, lambda: feed.streaming and ws.open_sockets == 1)
    feed.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("feed-stream-")]
    deadline = time.monotonic() + WAIT_S
    while ws.open_sockets:  # the server sees the client go
        assert time.monotonic() < deadline, "the socket stayed open"
        time.sleep(0.01)


def test_the_factory_streams_only_where_the_exchange_watches_candles(
    emu: BinanceEmulator, ws: BinanceWsEmulator
) -> None:
    on = FeedSettings(ws_url_overrides=ws_urls(ws))
    off = FeedSettings(ws_url_overrides=ws_urls(ws), stream=False)
    cases = [
        (BTC, data_settings(emu), on, StreamingFeed),
        (BTC, data_settings(emu), off, PollingFeed),  # forced to poll
        (BTC, data_settings(emu), FeedSettings(), PollingFeed),  # REST overridden, not the socket
        (BTC.model_copy(update={"exchange": "bitstamp"}), DataSettings(), on, PollingFeed),
        (BTC.model_copy(update={"exchange": "bigone"}), DataSettings(), on, PollingFeed),
        (BTC, DataSettings(), FeedSettings(), StreamingFeed),  # the real one: never read
    ]
    for inst, data, settings, kind in cases:
        feed = open_live_feed(inst, data, settings)
        assert type(feed) is kind, (inst.exchange, data.url_overrides, settings.stream)
        feed.close()
    assert emu.calls() == [] and ws.connections == 0  # the factory asks nothing
