"""`rara data fetch` over real HTTP against the Binance emulator on 127.0.0.1."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow.parquet as pq
import pytest

from rara.config import load_settings
from rara.data.catalog import Catalog
from rara.data.fetch import FetchReport, fetch_candles
from rara.domain.market import Instrument, Timeframe, ms_to_iso, parse_utc
from rara.errors import RaraError
from rara.home import Home
from tests.emulators.exchange import KLINES, BinanceEmulator, Fault
from tests.kit.candles import home_catalog

if TYPE_CHECKING:
    from tests.kit.cli import Cli

MIN = 60_000
HOUR = 3_600_000
BTC_1M = Instrument(exchange="binance", symbol="BTC/USDT", timeframe=Timeframe.parse("1m"))


def stored(cat: Catalog, inst: Instrument = BTC_1M) -> np.ndarray:
    c = cat.load(inst)
    return np.column_stack([c.ts.astype(np.float64), c.open, c.high, c.low, c.close, c.volume])


def fetch(
    start: str,
    end: str,
    symbol: str = "BTC/USDT",
    timeframe: str = "1m",
    sleep: Callable[[float], None] = time.sleep,
) -> FetchReport:
    return fetch_candles(
        "binance",
        symbol,
        timeframe,
        start,
        end,
        settings=load_settings(Home.from_env()),
        catalog=home_catalog(),
        sleep=sleep,
        jitter_seed=1,
    )


def recording_sleep() -> tuple[list[float], Callable[[float], None]]:
    delays: list[float] = []

    def sleep(s: float) -> None:
        delays.append(s)
        time.sleep(s)

    return delays, sleep


def test_pages_across_many_requests_and_matches_the_exchange(
    emulator: BinanceEmulator, configure: Callable[..., None]
) -> None:
    configure(page_limit=500)
    start, end = "2023-02-27", "2023-03-02"  # 3 days of 1m bars, across a month boundary
    report = fetch(start, end)

    s, e = parse_utc(start), parse_utc(end)
    truth = emulator.bars("BTCUSDT", "1m", s, e)
    assert len(truth) == 3 * 1440
    got = stored(home_catalog())
    np.testing.assert_array_equal(got, truth)  # exact: every bar, no duplicates, no extras

    klines = emulator.klines_calls()
    assert len(klines) == -(-len(truth) // 500) == 9
    # the cursor walks forward one full page at a time and never re-asks
    assert [k.start_time for k in klines] == [s + i * 500 * MIN for i in range(9)]
    assert all(k.query["limit"] == "500" for k in klines)
    # nothing ccxt needs is missing from the emulator: only these two endpoints were called
    assert {r.path for r in emulator.calls()} == {"/api/v3/exchangeInfo", KLINES}
    assert all(r.status == 200 for r in emulator.calls())

    assert report.requests == 10  # exchangeInfo + 9 pages
    assert report.bars_fetched == report.bars_added == len(truth)
    assert report.periods_written == ["2023-02", "2023-03"]
    assert report.fetched == [[ms_to_iso(s), ms_to_iso(e)]] and report.skipped == []
    assert report.gaps.missing_bars == 0 and report.retries == 0
    assert home_catalog().covered(BTC_1M) == [(s, e)]


def test_429_waits_for_retry_after_then_succeeds(
    emulator: BinanceEmulator, configure: Callable[..., None]
) -> None:
    configure(page_limit=500)
    emulator.fail(nth=2, status=429, retry_after="1")
    delays, sleep = recording_sleep()
    report = fetch("2023-05-01", "2023-05-02", sleep=sleep)

    assert len(delays) == 1 and delays[0] >= 1.0
    assert report.retries == 1
    klines = emulator.klines_calls()
    assert [k.status for k in klines] == [200, 429, 200, 200]
    assert klines[1].start_time == klines[2].start_time  # the same page, asked again
    truth = emulator.bars("BTCUSDT", "1m", parse_utc("2023-05-01"), parse_utc("2023-05-02"))
    np.testing.assert_array_equal(stored(home_catalog()), truth)


def test_500_then_success(emulator: BinanceEmulator, configure: Callable[..., None]) -> None:
    configure(page_limit=1000)
    emulator.fail(nth=1, status=500)
    delays, sleep = recording_sleep()
    report = fetch("2023-05-01", "2023-05-01T12:00", sleep=sleep)

    assert report.retries == 1 and len(delays) == 1
    assert 0.005 <= delays[0] <= 0.01  # backoff_base_s with jitter; no Retry-After given
    assert [k.status for k in emulator.klines_calls()] == [500, 200]
    assert report.bars_added == 720


def test_giving_up_keeps_what_was_saved_and_a_rerun_resumes(
    emulator: BinanceEmulator, configure: Callable[..., None]
) -> None:
    configure(page_limit=100, flush_every_pages=2, max_retries=2)
    s, e = parse_utc("2023-06-01"), parse_utc("2023-06-01T12:00")
    wall = s + 350 * MIN  # every request from here on fails
    fault = emulator.add_fault(
        Fault(when=lambda q: int(q["startTime"]) >= wall, times=10**6, status=503)
    )
    with pytest.raises(RaraError) as err:
        fetch("2023-06-01", "2023-06-01T12:00")
    assert err.value.code == "fetch_failed"
    assert "rerun" in err.value.suggestion and "saved 400 new bars" in err.value.message
    # pages 1-4 were checkpointed at page 2 and 4 and the loss flush kept nothing more
    assert home_catalog().covered(BTC_1M) == [(s, s + 400 * MIN)]
    assert [k.status for k in emulator.klines_calls()][-3:] == [503, 503, 503]

    fault.times = 0  # the exchange recovers
    before = len(emulator.klines_calls())
    report = fetch("2023-06-01", "2023-06-01T12:00")
    rerun = emulator.klines_calls()[before:]
    assert rerun[0].start_time == s + 400 * MIN
    assert report.skipped == [[ms_to_iso(s), ms_to_iso(s + 400 * MIN)]]
    np.testing.assert_array_equal(stored(home_catalog()), emulator.bars("BTCUSDT", "1m", s, e))


def test_ctrl_c_saves_the_pages_in_memory(
    emulator: BinanceEmulator, configure: Callable[..., None]
) -> None:
    configure(page_limit=100, flush_every_pages=10)  # no checkpoint before the interrupt
    s = parse_utc("2023-06-10")
    emulator.fail(nth=4, status=500)

    def interrupted_sleep(_: float) -> None:
        raise KeyboardInterrupt  # Ctrl-C while waiting to retry page 4

    with pytest.raises(KeyboardInterrupt):
        fetch("2023-06-10", "2023-06-11", sleep=interrupted_sleep)
    cat = home_catalog()
    assert cat.covered(BTC_1M) == [(s, s + 300 * MIN)]
    np.testing.assert_array_equal(stored(cat), emulator.bars("BTCUSDT", "1m", s, s + 300 * MIN))


def test_gaps_interior_and_before_listing(
    emulator: BinanceEmulator, configure: Callable[..., None], rara_home: Path
) -> None:
    configure(page_limit=1000)
    gs, ge = parse_utc("2023-07-01T10:00"), parse_utc("2023-07-01T11:30")
    emulator.omit("BTCUSDT", gs, ge)
    report = fetch("2023-07-01", "2023-07-02")
    assert report.gaps.interior == [[ms_to_iso(gs), ms_to_iso(ge)]]
    assert report.gaps.interior_count == 1 and report.gaps.missing_bars == 90
    assert report.gaps.leading is None and report.gaps.trailing is None
    cat = Catalog(rara_home / "data", embedded=None)
    ts = cat.load(BTC_1M).ts
    assert not np.any((ts >= gs) & (ts < ge)) and len(ts) == 1440 - 90
    (info,) = [i for i in cat.info() if i["symbol"] == "BTC/USDT"]  # what `data info` shows
    assert info["gaps"] == 1 and info["missing_bars"] == 90
    assert info["gap_ranges"] == [[ms_to_iso(gs), ms_to_iso(ge)]]

    listing = parse_utc("2023-07-03")
    emulator.markets["ETHUSDT"].listing_ms = listing
    eth = Instrument(exchange="binance", symbol="ETH/USDT", timeframe=Timeframe.parse("1h"))
    report = fetch("2023-07-01", "2023-07-05", symbol="ETH/USDT", timeframe="1h")
    assert report.gaps.leading == [ms_to_iso(parse_utc("2023-07-01")), ms_to_iso(listing)]
    assert report.gaps.missing_bars == 48 and report.bars_added == 48
    assert cat.load(eth).ts[0] == listing
    # "the exchange has nothing before listing" is recorded, so it is not asked again
    assert cat.covered(eth) == [(parse_utc("2023-07-01"), parse_utc("2023-07-05"))]
    before = len(emulator.calls())
    again = fetch("2023-07-01", "2023-07-05", symbol="ETH/USDT", timeframe="1h")
    assert len(emulator.calls()) == before and again.requests == 0
    assert again.gaps == report.gaps


def test_fetch_next_to_the_embedded_sample_keeps_the_sample(
    emulator: BinanceEmulator, configure: Callable[..., None]
) -> None:
    configure(page_limit=1000)
    inst = Instrument(exchange="binance", symbol="BTC/USDT", timeframe=Timeframe.parse("1h"))
    cat = home_catalog()
    shipped = cat.load(inst)
    assert len(shipped) and cat.covered(inst)[0][1] == parse_utc("2024-09-06")
    report = fetch("2024-09-01", "2024-09-10", timeframe="1h")
    assert report.skipped == [["2024-09-01T00:00:00Z", "2024-09-06T00:00:00Z"]]
    after = home_catalog().load(inst)
    assert len(after) == len(shipped) + 4 * 24


def test_rerunning_a_completed_fetch_makes_no_request(
    emulator: BinanceEmulator, configure: Callable[..., None]
) -> None:
    configure(page_limit=1000)
    first = fetch("2023-08-01", "2023-08-02")
    assert first.requests == 3
    log_before = list(emulator.calls())
    again = fetch("2023-08-01", "2023-08-02")
    assert emulator.calls() == log_before  # not even exchangeInfo
    assert again.requests == 0 and again.bars_added == 0 and again.fetched == []
    assert again.skipped == [["2023-08-01T00:00:00Z", "2023-08-02T00:00:00Z"]]
    # a sub-range of what is stored needs nothing either; a wider one asks only for the rest
    assert fetch("2023-08-01T06:00", "2023-08-01T07:00").requests == 0
    wider = fetch("2023-08-01", "2023-08-02T01:00")
    assert wider.fetched == [["2023-08-02T00:00:00Z", "2023-08-02T01:00:00Z"]]
    assert [k.start_time for k in emulator.klines_calls()][-1] == parse_utc("2023-08-02")


def _all_parquet_readable(root: Path) -> list[Path]:
    files = sorted(root.rglob("*.parquet"))
    for f in files:
        pq.read_table(f)  # raises on a torn file
    return files


@pytest.mark.slow
def test_killed_fetch_leaves_a_readable_catalog_and_resumes(
    emulator: BinanceEmulator, configure: Callable[..., None], fetch_cli: Cli, rara_home: Path
) -> None:
    configure(page_limit=100, flush_every_pages=2)
    s, e = parse_utc("2023-09-01"), parse_utc("2023-09-02")
    hang = emulator.hang(nth=7)  # pages 1-6 done and checkpointed at pages 2, 4 and 6
    args = (
        "data",
        "fetch",
        "--source",
        "binance",
        "--symbol",
        "BTC/USDT",
        "--timeframe",
        "1m",
        "--start",
        "2023-09-01",
        "--end",
        "2023-09-02",
    )
    proc = fetch_cli.popen(*args)
    try:
        assert hang.entered.wait(30), proc.communicate(timeout=5)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        hang.release()
    assert proc.returncode == -signal.SIGKILL

    data = rara_home / "data"
    assert _all_parquet_readable(data)
    assert not list(data.rglob("*.tmp"))
    cat = home_catalog()
    assert cat.covered(BTC_1M) == [(s, s + 600 * MIN)]
    assert len(cat.load(BTC_1M)) == 600

    before = len(emulator.klines_calls())
    res = fetch_cli.run(*args)
    assert res.code == 0, res.out
    rerun = emulator.klines_calls()[before:]
    assert [k.start_time for k in rerun] == [s + (600 + 100 * i) * MIN for i in range(9)]
    assert res.out["skipped"] == [[ms_to_iso(s), ms_to_iso(s + 600 * MIN)]]
    assert res.out["bars_added"] == 840 and res.out["requests"] == 10
    _all_parquet_readable(data)
    np.testing.assert_array_equal(stored(home_catalog()), emulator.bars("BTCUSDT", "1m", s, e))

    n = len(emulator.calls())
    res = fetch_cli.run(*args)  # complete now: a third run asks nothing at all
    assert res.code == 0 and res.out["requests"] == 0 and len(emulator.calls()) == n


@pytest.mark.slow
def test_sigterm_saves_the_pages_in_memory_and_says_so(
    emulator: BinanceEmulator, configure: Callable[..., None], fetch_cli: Cli
) -> None:
    configure(page_limit=100, flush_every_pages=10)  # no checkpoint before the signal
    s = parse_utc("2023-10-01")
    hang = emulator.hang(nth=4)
    proc = fetch_cli.popen(
        "data", "fetch", "--symbol", "BTC/USDT", "--timeframe", "1m",
        "--start", "2023-10-01", "--end", "2023-10-02",
    )  # fmt: skip
    try:
        assert hang.entered.wait(30)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
        hang.release()
    assert proc.returncode == 130
    assert json.loads(out)["error"]["code"] == "interrupted"
    assert home_catalog().covered(BTC_1M) == [(s, s + 300 * MIN)]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "code", "hint"),
    [
        (("--source", "binanse", "--symbol", "BTC/USDT"), "unknown_exchange", "binance"),
        (("--symbol", "BTCUSDT"), "bad_symbol", "BASE/QUOTE"),
        (("--symbol", "BTC/USDT", "--start", "2023-02-01", "--end", "2023-01-01"), "bad_range", ""),
        (("--symbol", "DOGE/USDT"), "unknown_symbol", ""),
        (("--symbol", "BTC/USDT", "--timeframe", "2m"), "unsupported_timeframe", "1m"),
    ],
)
def test_bad_input_is_a_json_error_and_writes_nothing(
    emulator: BinanceEmulator,
    configure: Callable[..., None],
    fetch_cli: Cli,
    rara_home: Path,
    args: tuple[str, ...],
    code: str,
    hint: str,
) -> None:
    defaults = {"--timeframe": "1m", "--start": "2023-01-01", "--end": "2023-01-02"}
    full = list(args)
    for k, v in defaults.items():
        if k not in full:
            full += [k, v]
    res = fetch_cli.run("data", "fetch", *full)
    assert res.code == 2, (res.out, res.err)
    assert res.out["error"]["code"] == code
    assert hint in res.out["error"]["suggestion"]
    assert not (rara_home / "data").exists()
    assert emulator.klines_calls() == []
    if code == "unknown_symbol":
        assert "DOGE/USDT" in res.out["error"]["message"]
        assert [r.path for r in emulator.calls()] == ["/api/v3/exchangeInfo"]
    else:  # everything else is caught offline
        assert emulator.calls() == []


def test_retry_after_as_seconds_or_http_date() -> None:
    from rara.data.ccxt_source import parse_retry_after

    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_a_mistyped_url_override_is_bad_input() -> None:
    from rara.config import DataSettings
    from rara.data.ccxt_source import CcxtSource

    with pytest.raises(RaraError) as err:
        CcxtSource("binance", DataSettings(url_overrides={"binance": {"pubic": "http://x"}}))
    assert err.value.code == "bad_url_override" and "public" in err.value.suggestion
