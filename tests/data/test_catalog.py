"""The Parquet catalog: layout, merge, atomic writes, resampling, coverage and damaged files."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rara.data.catalog import Catalog, CorruptFile
from rara.data.periods import merge_intervals, period_bounds, periods_between, subtract_intervals
from rara.domain.market import Candles, Instrument, Timeframe, parse_utc
from tests.kit.candles import home_catalog
from tests.kit.cli import tree_snapshot


def inst(symbol: str = "BTC/USDT", tf: str = "1h", exchange: str = "binance") -> Instrument:
    return Instrument(exchange=exchange, symbol=symbol, timeframe=Timeframe.parse(tf))


def walk(n: int, tf_ms: int, start_ms: int, seed: int = 0) -> Candles:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    hi = np.maximum(open_, close) * 1.001
    lo = np.minimum(open_, close) * 0.999
    ts = start_ms + np.arange(n, dtype=np.int64) * tf_ms
    return Candles(ts, open_, hi, lo, close, rng.uniform(1, 10, n))


def test_sql_resample_reproduces_exchange_bars():
    """Real Binance 5m bars aggregated in DuckDB equal Binance's own 1h and 1d bars."""
    cat = home_catalog()
    hourly = cat.resample(inst(tf="5m"), Timeframe.parse("1h"))
    ref = cat.load(inst(tf="1h"))
    assert np.array_equal(hourly.ts, ref.ts)
    for col in ("open", "high", "low", "close"):
        assert np.array_equal(getattr(hourly, col), getattr(ref, col)), col
    assert np.allclose(hourly.volume, ref.volume, rtol=1e-9)
    daily = cat.resample(inst(tf="1h"), Timeframe.parse("1d"))
    ref_d = cat.load(inst(tf="1d"))
    assert np.array_equal(daily.ts, ref_d.ts) and np.array_equal(daily.close, ref_d.close)


def test_resample_drops_half_formed_edge_bars():
    cat = home_catalog()
    start, end = parse_utc("2024-03-01T00:20"), parse_utc("2024-03-01T05:35")
    out = cat.resample(inst(tf="5m"), Timeframe.parse("1h"), start, end)
    # 00:00 starts before the data (00:20) and 05:00 ends after it (05:35): both dropped
    assert [int(t) for t in out.ts] == [parse_utc(f"2024-03-01T0{h}:00") for h in range(1, 5)]


def test_resample_refuses_non_multiple():
    with pytest.raises(Exception) as e:
        home_catalog().resample(inst(tf="1h"), Timeframe.parse("90m"))
    assert getattr(e.value, "code", "") == "bad_resample"


def test_load_range_is_half_open():
    cat = home_catalog()
    c = cat.load(inst(), parse_utc("2024-02-01"), parse_utc("2024-02-02"))
    assert len(c) == 24
    assert c.ts[0] == parse_utc("2024-02-01") and c.ts[-1] == parse_utc("2024-02-01T23:00")


def test_partitions_by_period(rara_home):
    cat = Catalog(rara_home / "data", embedded=None)
    i = inst("ETH/USDT", "1m", "kraken")
    c = walk(3 * 24 * 60, 60_000, parse_utc("2024-01-30"))
    res = cat.write(i, c, source="test")
    assert res.periods == ["2024-01", "2024-02"] and res.added == len(c)
    files = sorted(p.name for p in (rara_home / "data/kraken/ETH-USDT/1m").iterdir())
    assert files == ["2024-01.parquet", "2024-02.parquet"]
    assert np.array_equal(cat.load(i).close, c.close)


def test_write_is_idempotent_and_merges(rara_home):
    cat = Catalog(rara_home / "data", embedded=None)
    i = inst(tf="1h")
    c = walk(500, 3_600_000, parse_utc("2023-12-20"))
    cat.write(i, c, source="a")
    again = cat.write(i, c, source="a")
    assert again.added == 0 and again.replaced == len(c)
    assert len(cat.load(i)) == 500
    later = walk(100, 3_600_000, int(c.ts[-1]) + 3_600_000, seed=1)
    assert cat.write(i, later, source="b").added == 100
    both = cat.load(i)
    assert len(both) == 600 and np.all(np.diff(both.ts) == 3_600_000)
    assert not list((rara_home / "data").rglob("*.tmp"))


def test_user_rows_win_over_embedded_without_hiding_it(rara_home):
    cat = home_catalog()
    i = inst("BTC/USDT", "1d")
    embedded = cat.load(i)
    fields = ("open", "high", "low", "close", "volume")
    own = Candles(embedded.ts[:3].copy(), *(getattr(embedded, f)[:3] * 2 for f in fields))
    res = cat.write(i, own, source="mine")
    assert res.replaced == 3 and res.added == 0
    loaded = cat.load(i)
    assert len(loaded) == len(embedded)  # the rest of the shipped period is still there
    assert np.array_equal(loaded.close[:3], own.close)
    assert np.array_equal(loaded.close[3:], embedded.close[3:])
    assert cat.covered(i) == Catalog(rara_home / "x", embedded=cat.embedded).covered(i)


def test_corrupt_file_is_reported_not_raised(cli, rara_home):
    bad = rara_home / "data/binance/SOL-USDT/1h/2024.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"PAR1 this is not parquet")
    r = cli("data", "info")
    assert r.code == 0, r.stdout
    assert r.json["problems"][0]["path"].endswith("SOL-USDT/1h/2024.parquet")
    assert "Traceback" not in r.stderr
    v = cli("validate")
    assert v.code == 1 and "data_file" in v.json["faults"]
    r = cli("data", "resample", "--symbol", "SOL/USDT", "--from", "1h", "--to", "1d")
    assert r.code == 1 and r.error["code"] == "corrupt_data"
    assert "2024.parquet" in r.error["message"]


def test_write_over_corrupt_period_keeps_the_damaged_file(rara_home):
    cat = Catalog(rara_home / "data", embedded=None)
    i = inst("SOL/USDT", "1h")
    bad = rara_home / "data/binance/SOL-USDT/1h/2023.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"garbage")
    with pytest.raises(CorruptFile):
        cat.load(i)
    res = cat.write(i, walk(10, 3_600_000, parse_utc("2023-05-01")), source="t")
    assert len(res.quarantined) == 1
    kept = [p for p in bad.parent.iterdir() if ".corrupt-" in p.name]
    assert kept and kept[0].read_bytes() == b"garbage"
    assert len(cat.load(i)) == 10


def test_failed_write_leaves_catalog_unchanged(rara_home, monkeypatch):
    cat = Catalog(rara_home / "data", embedded=None)
    i = inst()
    cat.write(i, walk(50, 3_600_000, parse_utc("2024-01-01")), source="t")
    before = tree_snapshot(rara_home)
    import pyarrow.parquet as pq

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", boom)
    with pytest.raises(OSError):
        cat.write(i, walk(50, 3_600_000, parse_utc("2024-01-03"), seed=3), source="t")
    assert tree_snapshot(rara_home) == before
    assert len(cat.load(i)) == 50


def test_coverage_metadata_accumulates(rara_home):
    cat = Catalog(rara_home / "data", embedded=None)
    i = inst(tf="1m")
    a, b = parse_utc("2024-01-01"), parse_utc("2024-01-02")
    cat.write(i, walk(100, 60_000, a), source="t", covered=[(a, a + 100 * 60_000)])
    cat.write(i, Candles.empty(), source="t", covered=[(b, b + 60_000 * 10)])  # asked, got nothing
    assert cat.covered(i) == [(a, a + 100 * 60_000), (b, b + 600_000)]


@given(
    st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 1000)), max_size=8),
    st.tuples(st.integers(0, 1000), st.integers(0, 1000)),
)
def test_interval_algebra(spans, want):
    have = [(min(s, e), max(s, e)) for s, e in spans]
    w = (min(want), max(want))
    merged = merge_intervals(have)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(merged))
    todo = subtract_intervals(w, have)
    covered = {x for s, e in have for x in range(s, e)}
    assert {x for s, e in todo for x in range(s, e)} == set(range(*w)) - covered


def test_periods():
    tf = Timeframe.parse("5m")
    assert periods_between(parse_utc("2023-12-31"), parse_utc("2024-02-02"), tf) == [
        "2023-12",
        "2024-01",
        "2024-02",
    ]
    assert period_bounds("2024-12") == (parse_utc("2024-12-01"), parse_utc("2025-01-01"))
    assert periods_between(
        parse_utc("2023-06-01"), parse_utc("2024-06-01"), Timeframe.parse("1h")
    ) == ["2023", "2024"]
