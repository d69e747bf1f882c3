"""Market signals on synthetic candles: a planted gap, range jump and volume spike are found with
their value and threshold, calm data raises none; through the sentinel each is recorded once per
bar, a critical one locks its symbol, and candles that cannot be read are a source failure."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rara.daemon_settings import SentinelMarketSettings, SentinelSettings
from rara.domain.market import Candles
from rara.events import EventStore, open_event_store
from rara.home import Home
from rara.sentinel import Sentinel, SentinelComponent
from rara.sentinel.market import gap, market_signals, volatility_jump, volume_spike
from rara.supervision import Progress
from rara.trading.control import Control
from tests.sentinel.feedserver import NOW

H = 3_600_000
SETTINGS = SentinelMarketSettings(window_bars=48)


def calm(n: int = 100, seed: int = 3) -> Candles:
    """A quiet random walk: ranges about 0.5%, volume about 100, opens at the previous close."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    spread = np.abs(rng.normal(0.005, 0.001, n)) * close
    high = np.maximum(open_, close) + spread / 2
    low = np.minimum(open_, close) - spread / 2
    volume = rng.uniform(80, 120, n)
    ts = np.arange(n, dtype=np.int64) * H
    return Candles(ts, open_, high, low, close, volume)


def planted(
    candles: Candles, *, gap_by: float = 0.0, range_x: float = 1.0, volume_x: float = 1.0
) -> Candles:
    """`candles` with the last bar changed: opened `gap_by` away from the previous close, its range
    `range_x` times wider and its volume `volume_x` times bigger."""
    o, h, lo, c, v = (
        a.copy() for a in (candles.open, candles.high, candles.low, candles.close, candles.volume)
    )
    shift = c[-2] * (1 + gap_by) / o[-1]  # the whole bar moves: it opens away from the close
    for column in (o, h, lo, c):
        column[-1] *= shift
    mid, half = (h[-1] + lo[-1]) / 2, (h[-1] - lo[-1]) / 2 * range_x
    h[-1], lo[-1] = max(mid + half, o[-1], c[-1]), min(mid - half, o[-1], c[-1])
    v[-1] *= volume_x
    return Candles(candles.ts, o, h, lo, c, v)


def test_calm_data_raises_nothing() -> None:
    for seed in range(5):
        assert market_signals(calm(seed=seed), SETTINGS) == []


def test_each_planted_move_is_found_with_value_and_threshold() -> None:
    base = calm()
    (g,) = market_signals(planted(base, gap_by=0.07), SETTINGS)
    assert (g.signal, g.severity, g.threshold) == ("gap", "warning", 0.05)
    assert g.value == pytest.approx(0.07, rel=1e-6) and g.bar_ms == int(base.ts[-1])

    (s,) = market_signals(planted(base, volume_x=30), SETTINGS)
    assert (s.signal, s.severity) == ("volume_spike", "critical")  # 2x the threshold and more
    assert s.value > 20

    (j,) = market_signals(planted(base, range_x=8), SETTINGS)
    assert j.signal == "volatility_jump" and j.value >= 5 and j.severity == "warning"


def test_the_functions_on_short_or_flat_arrays_give_no_value() -> None:
    flat = np.ones(60)
    assert math.isnan(volatility_jump(flat, flat, 48))  # zero baseline range
    assert math.isnan(volume_spike(np.zeros(60), 48))
    assert math.isnan(volume_spike(np.ones(10), 48))  # too few bars
    assert math.isnan(gap(np.ones(1), np.ones(1)))
    assert gap(np.array([1.0, 1.1]), np.array([1.0, 1.0])) == pytest.approx(0.1)


@pytest.fixture
def store(rara_home: Path) -> Iterator[EventStore]:
    rara_home.mkdir(parents=True, exist_ok=True)
    with open_event_store(Home.from_env().state_db) as s:
        yield s


def test_the_sentinel_records_market_signals_once_per_bar(store: EventStore) -> None:
    candles = {"BTC/USDT": planted(calm(), gap_by=0.12), "ETH/USDT": calm(seed=9)}

    def candles_of(symbol: str) -> Candles | None:
        if symbol == "SOL/USDT":
            raise OSError("no candles stored for SOL/USDT")
        return candles.get(symbol)

    sentinel = Sentinel(
        store,
        SentinelSettings(),
        traded_symbols=lambda: ["BTC/USDT", "ETH/USDT", "SOL/USDT", "DOGE/USDT"],
        candles_of=candles_of,
        clock_ms=lambda: NOW,
    )
    try:
        (raised,) = sentinel.poll_once()
        assert (raised.signal, raised.severity, raised.symbol) == ("gap", "critical", "BTC/USDT")
        assert raised.threshold == 0.05 and raised.value == pytest.approx(0.12)
        assert sentinel.poll_once() == []  # the same bar: already recorded
    finally:
        sentinel.close()
    (lock,) = Control(store).locks(NOW)
    assert (lock.scope, lock.target) == ("symbol", "BTC/USDT")
    failed = [e.payload for e in store.query() if e.type == "sentinel_source_failed"]
    assert [(f["source"], f["kind"], f["code"], f["consecutive"]) for f in failed] == [
        ("market:SOL/USDT", "market", "candles_unavailable", 1),
        ("market:SOL/USDT", "market", "candles_unavailable", 2),
    ]


def test_the_component_polls_beats_and_stops(store: EventStore, tmp_path: Path) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_text("<rss version='2.0'><channel><title>t</title></channel></rss>")
    sentinel = Sentinel(store, SentinelSettings(feeds=(str(feed),)), traded_symbols=lambda: [])
    component = SentinelComponent(sentinel, interval_s=0.05)
    assert (component.name, component.kind, component.restart) == ("sentinel", "sentinel", "always")
    progress, stopping = Progress(), threading.Event()
    worker = threading.Thread(target=component.run, args=(progress, stopping))
    worker.start()
    try:
        deadline = 200
        while progress.beats < 3 and deadline:
            stopping.wait(0.05)
            deadline -= 1
        assert progress.beats >= 3
    finally:
        stopping.set()
        worker.join(timeout=30)
        sentinel.close()
    assert not worker.is_alive()
    assert progress.detail == "polled 1 feeds: 0 new signals"


def test_the_component_keeps_its_webhook_port_in_its_detail(store: EventStore) -> None:
    """With ``webhook_port = 0`` the bound port is nowhere else a client could read it: it stays
    in every poll's detail (`rara status`), not only in the first beat."""
    sentinel = Sentinel(
        store,
        SentinelSettings(webhook_port=0),
        traded_symbols=lambda: [],
        webhook_token="whk-component-test-0d9e",
    )
    component = SentinelComponent(sentinel, interval_s=0.05)
    progress, stopping = Progress(), threading.Event()
    worker = threading.Thread(target=component.run, args=(progress, stopping))
    worker.start()
    try:
        deadline = 200
        while progress.beats < 4 and deadline:
            stopping.wait(0.05)
            deadline -= 1
        assert progress.beats >= 4
        port = sentinel.start_webhook()  # already serving: its port
        assert progress.detail == f"polled 0 feeds: 0 new signals; webhook on 127.0.0.1:{port}"
    finally:
        stopping.set()
        worker.join(timeout=30)
        sentinel.close()
    assert not worker.is_alive()


@settings(derandomize=True, max_examples=30, deadline=None)
@given(
    price_scale=st.floats(1e-3, 1e5),
    volume_scale=st.floats(1e-3, 1e5),
    gap_by=st.sampled_from([0.0, 0.06, 0.2]),
    volume_x=st.sampled_from([1.0, 12.0, 40.0]),
)
def test_signals_do_not_depend_on_units(
    price_scale: float, volume_scale: float, gap_by: float, volume_x: float
) -> None:
    """The same market quoted in other units (a price or a volume scaled) raises the same
    signals with the same values."""
    bars = planted(calm(), gap_by=gap_by, volume_x=volume_x)
    scaled = Candles(
        bars.ts,
        *(a * price_scale for a in (bars.open, bars.high, bars.low, bars.close)),
        bars.volume * volume_scale,
    )
    expected = [(s.signal, s.severity) for s in market_signals(bars, SETTINGS)]
    assert [(s.signal, s.severity) for s in market_signals(scaled, SETTINGS)] == expected
    assert ("gap" in [name for name, _ in expected]) == (gap_by > 0.05)
    assert ("volume_spike" in [name for name, _ in expected]) == (volume_x > 10)
