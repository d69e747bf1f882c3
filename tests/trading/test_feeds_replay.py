"""`ReplayFeed` over the shipped BTC/USDT 1h sample: the catalog's bars in order, the warm-up
before the start, resuming after a bar, and pacing at a speed on a simulated clock."""

from __future__ import annotations

import numpy as np
import pytest

from rara.data.catalog import Catalog
from rara.domain.market import Candles, Instrument, parse_utc
from rara.errors import BadInput
from rara.home import Home
from rara.trading.feed import ClosedBar, Feed
from rara.trading.feeds import ReplayFeed

HOUR = 3_600_000


@pytest.fixture
def catalog() -> Catalog:
    return Catalog(Home.from_env().data_dir)  # the per-test home is empty: the shipped sample


@pytest.fixture
def btc(catalog: Catalog) -> Instrument:
    return catalog.resolve("BTC/USDT", "1h")


def rows(bars: tuple[ClosedBar, ...] | list[ClosedBar]) -> np.ndarray:
    return np.array(
        [[b.open_ms, b.open, b.high, b.low, b.close, b.volume] for b in bars], dtype=np.float64
    ).reshape(-1, 6)


def table(c: Candles) -> np.ndarray:
    return np.column_stack([c.ts.astype(np.float64), c.open, c.high, c.low, c.close, c.volume])


def drain(feed: ReplayFeed, max_bars: int) -> tuple[list[ClosedBar], int]:
    """Every bar to the end at max speed, and how many batches that took."""
    out: list[ClosedBar] = []
    batches = 0
    while True:
        batch = feed.next_batch(max_bars=max_bars, timeout_s=0)
        batches += 1
        assert len(batch.bars) <= max_bars
        out.extend(batch.bars)
        if batch.ended:
            return out, batches


def test_a_max_speed_replay_is_the_catalog_in_order(catalog: Catalog, btc: Instrument) -> None:
    truth = catalog.load(btc)
    feed: Feed = ReplayFeed(catalog, btc)  # the port, as the engine sees it
    assert feed.instrument == btc
    assert isinstance(feed, ReplayFeed)
    assert feed.total == len(truth) == 5976
    bars, batches = drain(feed, max_bars=1000)
    assert batches == 6  # 5 full batches and the last one, which says it ended
    assert len(bars) == len(truth)
    assert bars[0].open_ms == parse_utc("2024-01-01") == int(truth.ts[0])
    assert bars[-1].open_ms == parse_utc("2024-09-05T23:00") == int(truth.ts[-1])
    np.testing.assert_array_equal(rows(bars), table(truth))
    assert all(type(b.open_ms) is int and type(b.close) is float for b in bars[:3])
    after = feed.next_batch(max_bars=10, timeout_s=0)
    assert after.bars == () and after.ended and after.stale_since_ms is None
    assert feed.emitted == feed.total


def test_start_end_and_the_warm_up_before_the_start(catalog: Catalog, btc: Instrument) -> None:
    start, end = parse_utc("2024-03-01"), parse_utc("2024-03-08")
    feed = ReplayFeed(catalog, btc, start, end)
    warm = feed.history(200)
    assert len(warm) == 200
    assert warm[-1].open_ms == start - HOUR  # the bar just before the first replayed one
    np.testing.assert_array_equal(rows(warm), table(catalog.load(btc, start - 200 * HOUR, start)))
    bars, _ = drain(feed, max_bars=50)
    np.testing.assert_array_equal(rows(bars), table(catalog.load(btc, start, end)))
    assert len(bars) == 7 * 24 and bars[-1].open_ms == end - HOUR
    # Where the data starts later than the warm-up reaches, the warm-up is shorter.
    early = ReplayFeed(catalog, btc, parse_utc("2024-01-01T05:00"))
    assert [b.open_ms for b in early.history(50)] == [
        parse_utc("2024-01-01") + h * HOUR for h in range(5)
    ]
    assert ReplayFeed(catalog, btc).history(10) == ()


def test_after_ms_resumes_after_the_last_processed_bar(catalog: Catalog, btc: Instrument) -> None:
    start, end = parse_utc("2024-05-01"), parse_utc("2024-05-03")
    whole, _ = drain(ReplayFeed(catalog, btc, start, end), max_bars=7)
    first = ReplayFeed(catalog, btc, start, end)
    done = list(first.next_batch(max_bars=13, timeout_s=0).bars)  # then the process dies
    resumed = ReplayFeed(catalog, btc, start, end, after_ms=done[-1].open_ms)
    assert resumed.total == len(whole) - 13
    assert resumed.history(13) == tuple(done)  # its warm-up ends with the processed bar
    rest, _ = drain(resumed, max_bars=100)
    assert done + rest == whole
    # after_ms before the start changes nothing; at or after the last bar, nothing is left.
    assert drain(ReplayFeed(catalog, btc, start, end, after_ms=start - 5 * HOUR), 100)[0] == whole
    gone = ReplayFeed(catalog, btc, start, end, after_ms=whole[-1].open_ms)
    assert gone.total == 0 and gone.next_batch(5, 0).ended


class SimClock:
    """Monotonic seconds that move only when the feed sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        assert s >= 0
        self.sleeps.append(s)
        self.t += s


def test_a_paced_replay_emits_one_bar_per_due_time(catalog: Catalog, btc: Instrument) -> None:
    start = parse_utc("2024-06-01")
    truth = catalog.load(btc, start, start + 40 * HOUR)
    clock = SimClock()
    # 1h bars at 7200x: one every half second of simulated time, the first one half a second
    # after the replay starts.
    feed = ReplayFeed(
        catalog, btc, start, start + 40 * HOUR, speed=7200, clock=clock, sleep=clock.sleep
    )
    t0 = clock.t
    got: list[tuple[float, int]] = []  # (simulated time it came, open time)
    while clock.t < t0 + 5.25:
        batch = feed.next_batch(max_bars=100, timeout_s=0.3)
        assert len(batch.bars) <= 1  # the reader keeps up: never a burst
        got += [(clock.t - t0, b.open_ms) for b in batch.bars]
    assert [t for t, _ in got] == [0.5 * k for k in range(1, 11)]  # each at its due time
    assert [ts for _, ts in got] == truth.ts[:10].tolist()  # in order, none skipped
    assert feed.emitted == 10
    # Between two due times a short wait returns nothing, having waited just that long.
    t = clock.t
    assert feed.next_batch(max_bars=100, timeout_s=0.1).bars == ()
    assert clock.t == pytest.approx(t + 0.1)
    # A reader that falls behind gets every bar that came due meanwhile, capped by max_bars.
    clock.t = t0 + 10.0 * 0.5 + 3 * 0.5 + 0.25  # three more bars due by now
    assert [b.open_ms for b in feed.next_batch(max_bars=2, timeout_s=0).bars] == truth.ts[
        10:12
    ].tolist()
    assert [b.open_ms for b in feed.next_batch(max_bars=5, timeout_s=0).bars] == [int(truth.ts[12])]
    clock.t += 1000.0
    last = feed.next_batch(max_bars=100, timeout_s=0)
    assert last.ended and [b.open_ms for b in last.bars] == truth.ts[13:].tolist()


def test_a_speed_must_be_positive(catalog: Catalog, btc: Instrument) -> None:
    for speed in (0.0, -1.0):
        with pytest.raises(BadInput) as err:
            ReplayFeed(catalog, btc, speed=speed)
        assert err.value.code == "bad_speed"
