"""Paper trading on a live feed: bars polled through ccxt from the exchange emulator (real HTTP on
127.0.0.1) as the emulator's clock closes them, decided in the jailed sandbox, filled by the paper
venue, judged against the backtest of the same bars."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rara.backtest.engine import BacktestConfig, run_backtest
from rara.domain.events import TradingOrderSubmitted
from rara.domain.market import Candles, parse_utc
from rara.events import EventFilter
from rara.home import Home
from rara.trading.parity import backtest_trades, fills_of, paper_trades
from rara.trading.session import open_paper_session
from tests.emulators.exchange import BinanceEmulator
from tests.kit.paths import REPO

HOUR = 3_600_000
BARS = 40
SMA = str(REPO / "strategies/examples/sma_crossover/strategy.py")


def _config(home: Path, emu: BinanceEmulator) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        "[data]\nrate_limit_ms = 1\nrequest_timeout_ms = 20000\n"
        f'[data.url_overrides.binance]\npublic = "{emu.api_url}"\n'
        "[trading.feed]\npoll_interval_s = 0.01\nclose_delay_s = 0\nretry_max_s = 0.05\n"
    )


def test_a_polled_feed_trades_each_closed_bar_as_the_backtest_would(rara_home: Path) -> None:
    start = parse_utc("2024-03-01T00:00")
    with BinanceEmulator(now_ms=start + 30 * 60_000) as emu:
        _config(rara_home, emu)
        session = open_paper_session(
            Home.from_env(),
            SMA,
            symbol="BTC/USDT",
            timeframe="1h",
            exchange="binance",
            params={"fast": 3, "slow": 8},
            feed_kind="poll",
            clock=emu.now,
        )
        with session:

            def tick() -> bool:
                # the venue's clock moves one bar per look: a bar closes, the feed sees it
                done = session.engine.progress.bars >= BARS
                if not done:
                    emu.now_ms = emu.now() + HOUR
                return done

            assert session.run(should_stop=tick, timeout_s=0.05) == "stopped"
            dep = session.deployment
            fills = fills_of(session.store, dep.run_id)
            submitted = list(
                session.store.iter_query(
                    EventFilter(types=[TradingOrderSubmitted], correlation_id=dep.run_id)
                )
            )
            marks = session.engine.progress
            window_start = int(session.engine._window.ts[0])
        last_open = start + (BARS - 1) * HOUR
        assert marks.last_bar_ms == last_open  # every closed bar once, in order, none forming
        truth = emu.closed_bars("BTCUSDT", "1h", window_start, last_open + HOUR)
    assert submitted, "the fast crossover should have traded in 40 bars"
    # The backtest over the same bars, with full-history signals from the same sandbox code.
    candles = Candles(
        truth[:, 0].astype(np.int64), *(np.ascontiguousarray(truth[:, k]) for k in range(1, 6))
    )
    from rara.runner.sandbox import EvaluationRequest, open_sandbox

    with open_sandbox("subprocess", 30.0, 1024) as sandbox:
        ev = sandbox.evaluate(
            EvaluationRequest(
                source=Path(SMA).read_text(), candles=candles, params={"fast": 3, "slow": 8}
            )
        )
    assert ev.ok, ev.error
    first = int(np.searchsorted(candles.ts, start))
    w = ev.windows[-1]
    replayed = candles.slice(first, len(candles))
    result = run_backtest(
        replayed, w.entries[first:], w.exits[first:], BacktestConfig.for_exchange("binance")
    )
    expected = [t for t in backtest_trades(result.trades, replayed.ts) if t.exit_reason != "end"]
    got = paper_trades(fills, HOUR)
    assert [(t.entry_bar_ms, t.exit_bar_ms, t.exit_reason) for t in got] == [
        (t.entry_bar_ms, t.exit_bar_ms, t.exit_reason) for t in expected
    ]
    for p, b in zip(got, expected, strict=True):
        assert np.isclose(p.pnl, b.pnl, rtol=1e-9, atol=1e-9), json.dumps([p.pnl, b.pnl])


def test_a_venue_that_stops_producing_bars_is_a_stale_feed_event_until_bars_flow_again(
    rara_home: Path,
) -> None:
    from rara.domain.events import TradingFeedStale

    start = parse_utc("2024-03-01T00:00")
    with BinanceEmulator(now_ms=start + 30 * 60_000) as emu:
        _config(rara_home, emu)
        session = open_paper_session(
            Home.from_env(),
            SMA,
            symbol="BTC/USDT",
            timeframe="1h",
            exchange="binance",
            feed_kind="poll",
            clock=emu.now,
            batch_bars=1,
        )
        with session:
            halted_looks = 0

            def tick() -> bool:
                # the clock moves a third of a bar per look; 5 bars, a 6-hour halt, then bars
                nonlocal halted_looks
                bars = session.engine.progress.bars
                if bars == 5 and not emu.halts:
                    emu.freeze()
                if emu.halts and emu.halts[-1][1] is None:
                    halted_looks += 1
                    if halted_looks > 18:
                        emu.resume()
                emu.now_ms = emu.now() + HOUR // 3
                return bars >= 8

            session.run(should_stop=tick, timeout_s=0.05)
            stale = [
                ev.typed()
                for ev in session.store.iter_query(
                    EventFilter(types=[TradingFeedStale], correlation_id=session.deployment.run_id)
                )
            ]
    assert [s.stale for s in stale if isinstance(s, TradingFeedStale)] == [True, False]
    went, came = stale
    assert isinstance(went, TradingFeedStale) and isinstance(came, TradingFeedStale)
    assert went.last_bar_ms == start + 5 * HOUR  # the bar forming at the halt closed, no other
    assert went.since_ms == went.last_bar_ms + 3 * HOUR  # its close + two intervals
