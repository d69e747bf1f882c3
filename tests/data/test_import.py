"""`rara data import`: CSV, Parquet and freqtrade folders in; bad files refused with nothing
written; re-imports idempotent.

Inputs are built in tmp_path from the real sample candles that ship in the package.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import rara.cli.data_import  # noqa: F401  (registers `data import` / `data synth` on the group)
from rara.cli import app
from rara.data.catalog import Catalog, candles_to_table
from rara.data.importers import import_path, plan_import
from rara.domain.market import Candles, Instrument, Timeframe, parse_utc
from rara.errors import BadInput
from tests.kit.candles import home_catalog

# ---- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "home"
    monkeypatch.setenv("RARA_HOME", str(h))
    return h


def sample(symbol: str = "BTC/USDT", tf: str = "1h", n: int = 300, skip: int = 0) -> Candles:
    """Real Binance candles from the embedded sample (read-only root)."""
    c = Catalog(Path("/nonexistent")).load(
        Instrument(exchange="binance", symbol=symbol, timeframe=Timeframe.parse(tf))
    )
    return c.slice(skip, skip + n)


def inst(symbol: str, tf: str, exchange: str = "testex") -> Instrument:
    return Instrument(exchange=exchange, symbol=symbol, timeframe=Timeframe.parse(tf))


def assert_same(a: Candles, b: Candles) -> None:
    assert len(a) == len(b)
    for col in Candles.COLUMNS:
        assert np.array_equal(getattr(a, col), getattr(b, col)), col


def rows(c: Candles) -> list[list[float]]:
    return [[float(getattr(c, col)[i]) for col in Candles.COLUMNS[1:]] for i in range(len(c))]


def iso(ms: int, fmt: str = "%Y-%m-%dT%H:%M:%SZ") -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime(fmt)


def write_csv(
    path: Path,
    c: Candles,
    time_header: str = "timestamp",
    fmt: Callable[[int], Any] = int,
    header: list[str] | None = None,
) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header or [time_header, "Open", "High", "Low", "Close", "Volume"])
        for t, r in zip(c.ts.tolist(), rows(c), strict=True):
            w.writerow([fmt(t), *(repr(v) for v in r)])
    return path


def write_feather(path: Path, c: Candles, unit: str = "ns") -> Path:
    """The way freqtrade stores it: a pandas datetime64[ns, UTC] ``date`` column."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ts = pa.array(c.ts * {"ns": 1_000_000, "ms": 1}[unit], type=pa.timestamp(unit, tz="UTC"))
    table = pa.table({"date": ts, **{col: getattr(c, col) for col in Candles.COLUMNS[1:]}})
    feather.write_feather(table, path)
    return path


def write_json(path: Path, c: Candles, gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = [[t, *r] for t, r in zip(c.ts.tolist(), rows(c), strict=True)]
    text = json.dumps(data)
    if gz:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def data_hashes(home: Path) -> dict[str, str]:
    root = home / "data"
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def run(*args: str) -> tuple[int, Any]:
    res = CliRunner().invoke(app, list(args))
    out = json.loads(res.stdout) if res.stdout.strip() else None
    return res.exit_code, out


def freqtrade_folder(root: Path) -> dict[str, Candles]:
    """user_data/data/binance with spot .feather, .json, a futures file and files to skip."""
    ex = root / "user_data" / "data" / "binance"
    btc = sample("BTC/USDT", "1h", 400)
    eth = sample("BTC/USDT", "5m", 600, skip=100)
    fut = sample("SOL/USDT", "1h", 200)
    write_feather(ex / "BTC_USDT-1h.feather", btc)
    write_json(ex / "ETH_USDT-5m.json", eth)
    write_feather(ex / "futures" / "SOL_USDT_USDT-1h-futures.feather", fut, unit="ms")
    write_feather(ex / "futures" / "SOL_USDT_USDT-1h-mark.feather", fut)  # not trade candles
    (ex / "futures" / "SOL_USDT_USDT-8h-funding_rate.feather").write_bytes(b"skip me")
    (ex / "notes.txt").write_text("not data")
    return {"binance:BTC/USDT:1h": btc, "binance:ETH/USDT:5m": eth, "binance:SOL/USDT:USDT:1h": fut}


# ---- CSV -------------------------------------------------------------------------------------

TIME_FORMATS: dict[str, Callable[[int], Any]] = {
    "epoch_ms": int,
    "epoch_s": lambda t: t // 1000,
    "epoch_s_float": lambda t: f"{t / 1000:.1f}",
    "iso_z": iso,
    "iso_naive_space": lambda t: iso(t, "%Y-%m-%d %H:%M:%S"),
    "iso_offset": lambda t: iso(t, "%Y-%m-%dT%H:%M:%S+00:00"),
    "iso_utc_suffix": lambda t: iso(t, "%Y-%m-%d %H:%M:%S UTC"),
}


@pytest.mark.parametrize("fmt", list(TIME_FORMATS))
def test_csv_time_formats_round_trip(home: Path, tmp_path: Path, fmt: str) -> None:
    c = sample(n=500)
    f = write_csv(tmp_path / "btc.csv", c, fmt=TIME_FORMATS[fmt])
    code, out = run(
        "data",
        "import",
        str(f),
        "--symbol",
        "BTC-USDT",
        "--timeframe",
        "1h",
        "--exchange",
        "testex",
    )
    assert code == 0, out
    [row] = out["instruments"]
    assert (row["exchange"], row["symbol"], row["timeframe"]) == ("testex", "BTC/USDT", "1h")
    assert row["rows"] == row["added"] == 500 and row["replaced"] == 0
    assert row["range"] == [iso(int(c.ts[0])), iso(int(c.ts[-1]))]
    assert row["source"] == "import:btc.csv" and row["periods"] == ["2024"]
    assert_same(home_catalog().load(inst("BTC/USDT", "1h")), c)


def test_csv_infers_timeframe_and_says_so(home: Path, tmp_path: Path) -> None:
    c = sample("BTC/USDT", "5m", n=300)
    f = write_csv(tmp_path / "eth.csv", c, time_header="open_time")
    code, out = run("data", "import", str(f), "--symbol", "ETH/USDT", "--exchange", "testex")
    assert code == 0, out
    [row] = out["instruments"]
    assert row["timeframe"] == "5m"
    assert any("inferred" in n for n in row["notes"])
    assert_same(home_catalog().load(inst("ETH/USDT", "5m")), c)


def test_csv_default_exchange_is_reported(home: Path, tmp_path: Path) -> None:
    f = write_csv(tmp_path / "x.csv", sample(n=30))
    code, out = run("data", "import", str(f), "--symbol", "XRP/USDT", "--timeframe", "1h")
    assert code == 0
    row = out["instruments"][0]
    assert row["exchange"] == "binance" and any("assumed" in n for n in row["notes"])


def test_headerless_exchange_dump_with_microseconds(home: Path, tmp_path: Path) -> None:
    """data.binance.vision kline files: no header, open time in µs since 2025, extra columns."""
    c = sample(n=48)
    f = tmp_path / "BTCUSDT-1h-2024-01.csv"
    with open(f, "w", newline="") as fh:
        w = csv.writer(fh)
        for t, r in zip(c.ts.tolist(), rows(c), strict=True):
            w.writerow([t * 1000, *(repr(v) for v in r), t * 1000 + 3_599_999_999, 1.0, 7, 0, 0, 0])
    code, out = run("data", "import", str(f), "--symbol", "BTC/USDT", "--exchange", "testex")
    assert code == 0, out
    assert out["instruments"][0]["timeframe"] == "1h"
    assert_same(home_catalog().load(inst("BTC/USDT", "1h")), c)


def test_semicolon_csv(home: Path, tmp_path: Path) -> None:
    c = sample(n=20)
    f = tmp_path / "semi.csv"
    f.write_text(
        "time;open;high;low;close;volume\n"
        + "".join(
            f"{iso(int(t))};{';'.join(repr(v) for v in r)}\n"
            for t, r in zip(c.ts.tolist(), rows(c), strict=True)
        )
    )
    code, out = run(
        "data",
        "import",
        str(f),
        "--symbol",
        "BTC/USDT",
        "--timeframe",
        "1h",
        "--exchange",
        "testex",
    )
    assert code == 0, out
    assert_same(home_catalog().load(inst("BTC/USDT", "1h")), c)


# ---- Parquet ---------------------------------------------------------------------------------


def test_parquet_with_flags(home: Path, tmp_path: Path) -> None:
    c = sample("LTC/USDT", "1d", n=100)
    table = pa.table(
        {
            "Datetime": pa.array(c.ts, pa.int64()),
            **{col.upper(): getattr(c, col) for col in Candles.COLUMNS[1:]},
        }
    )
    pq.write_table(table, tmp_path / "ltc.parquet")
    code, out = run(
        "data",
        "import",
        str(tmp_path / "ltc.parquet"),
        "--symbol",
        "LTC/USDT",
        "--timeframe",
        "1d",
        "--exchange",
        "testex",
    )
    assert code == 0, out
    assert out["kind"] == "parquet"
    assert_same(home_catalog().load(inst("LTC/USDT", "1d")), c)


def test_parquet_with_rara_metadata_needs_no_flags(home: Path, tmp_path: Path) -> None:
    c = sample("DOGE/USDT", "1h", n=120)
    meta = {"exchange": "testex", "symbol": "DOGE/USDT", "timeframe": "1h", "sources": ["x"]}
    pq.write_table(candles_to_table(c, meta), tmp_path / "2024.parquet")
    code, out = run("data", "import", str(tmp_path / "2024.parquet"))
    assert code == 0, out
    row = out["instruments"][0]
    assert (row["exchange"], row["symbol"], row["timeframe"]) == ("testex", "DOGE/USDT", "1h")
    assert_same(home_catalog().load(inst("DOGE/USDT", "1h")), c)


def test_shared_sample_metadata_is_understood(home: Path, tmp_path: Path) -> None:
    """``ohlcv_meta`` as in the shared sample files: exchange "binance (spot)", BTC-USDT."""
    c = sample("TRX/USDT", "1d", n=50)
    table = candles_to_table(c, {}).replace_schema_metadata(
        {
            b"ohlcv_meta": json.dumps(
                {"symbol": "TRX-USDT", "timeframe": "1d", "exchange": "binance (spot)"}
            ).encode()
        }
    )
    pq.write_table(table, tmp_path / "TRX-USDT_1d.parquet")
    item = plan_import(tmp_path / "TRX-USDT_1d.parquet").items[0]
    assert item.inst == inst("TRX/USDT", "1d", "binance")
    assert_same(item.candles, c)


# ---- freqtrade -------------------------------------------------------------------------------


def test_freqtrade_folder_imports_every_candle_file(home: Path, tmp_path: Path) -> None:
    want = freqtrade_folder(tmp_path)
    folder = tmp_path / "user_data" / "data" / "binance"
    code, out = run("data", "import", str(folder))
    assert code == 0, out
    assert out["kind"] == "freqtrade-folder"
    got = {f"{r['exchange']}:{r['symbol']}:{r['timeframe']}": r for r in out["instruments"]}
    assert set(got) == set(want)
    assert got["binance:SOL/USDT:USDT:1h"]["source"] == "import:SOL_USDT_USDT-1h-futures.feather"
    skipped = {Path(s["file"]).name: s["reason"] for s in out["skipped"]}
    assert set(skipped) == {
        "SOL_USDT_USDT-1h-mark.feather",
        "notes.txt",
        "SOL_USDT_USDT-8h-funding_rate.feather",
    }
    cat = home_catalog()
    for key, c in want.items():
        ex, rest = key.split(":", 1)
        sym, tf = rest.rsplit(":", 1)
        # BTC/USDT 1h on binance is in the embedded sample already, with the same values
        embedded = key == "binance:BTC/USDT:1h"
        assert got[key]["added"] == (0 if embedded else len(c))
        assert got[key]["unchanged"] == (len(c) if embedded else 0)
        assert got[key]["replaced"] == 0 and got[key]["written"]
        assert_same(cat.load(inst(sym, tf, ex), int(c.ts[0]), int(c.ts[-1]) + 1), c)
    assert out["totals"]["rows"] == sum(len(c) for c in want.values())


def test_freqtrade_folder_filters_and_exchange_override(home: Path, tmp_path: Path) -> None:
    freqtrade_folder(tmp_path)
    folder = tmp_path / "user_data" / "data" / "binance"
    code, out = run("data", "import", str(folder), "--timeframe", "5m", "--exchange", "kraken")
    assert code == 0, out
    [row] = out["instruments"]
    assert (row["exchange"], row["symbol"], row["timeframe"]) == ("kraken", "ETH/USDT", "5m")


def test_single_freqtrade_files(home: Path, tmp_path: Path) -> None:
    c = sample("LINK/USDT", "1h", n=80)
    f = write_json(tmp_path / "bybit" / "LINK_USDT-1h.json.gz", c, gz=True)
    code, out = run("data", "import", str(f))
    assert code == 0, out
    row = out["instruments"][0]
    assert (row["exchange"], row["symbol"], row["timeframe"]) == ("bybit", "LINK/USDT", "1h")
    assert_same(home_catalog().load(inst("LINK/USDT", "1h", "bybit")), c)


def test_folder_of_parquet_files_with_metadata(home: Path, tmp_path: Path) -> None:
    """Like the shared samples: one Parquet file per market, named by its ``ohlcv_meta``."""
    folder = tmp_path / "samples"
    folder.mkdir()
    want = {}
    for sym, tf in (("BCH/USDT", "1d"), ("AVAX/USDT", "1h")):
        c = sample(sym, tf, n=60)
        meta = {"symbol": sym.replace("/", "-"), "timeframe": tf, "exchange": "binance (spot)"}
        table = candles_to_table(c, {}).replace_schema_metadata(
            {b"ohlcv_meta": json.dumps(meta).encode()}
        )
        pq.write_table(table, folder / f"{sym.replace('/', '-')}_{tf}.parquet")
        want[(sym, tf)] = c
    pq.write_table(
        candles_to_table(sample(n=5), {}).replace_schema_metadata({}), folder / "anonymous.parquet"
    )
    code, out = run("data", "import", str(folder), "--exchange", "testex")
    assert code == 0, out
    assert out["kind"] == "folder"
    assert [Path(s["file"]).name for s in out["skipped"]] == ["anonymous.parquet"]
    for (sym, tf), c in want.items():
        assert_same(home_catalog().load(inst(sym, tf)), c)


def test_mixed_epoch_units_are_refused(tmp_path: Path) -> None:
    f = tmp_path / "mixed.csv"
    f.write_text(
        "ts,open,high,low,close,volume\n1704067200,1,2,0.5,1.5,10\n1704070800000,1.5,2,1,1.8,12\n"
    )
    with pytest.raises(BadInput) as e:
        plan_import(f, "BTC/USDT", "1h", "testex")
    assert e.value.code == "unparseable_timestamp" and "mixes epoch units" in e.value.message


# ---- idempotence -----------------------------------------------------------------------------


def test_reimport_adds_nothing_and_rewrites_nothing(home: Path, tmp_path: Path) -> None:
    freqtrade_folder(tmp_path)
    folder = tmp_path / "user_data" / "data" / "binance"
    first = run("data", "import", str(folder))[1]
    before = data_hashes(home)
    code, again = run("data", "import", str(folder))
    assert code == 0
    for r0, r1 in zip(first["instruments"], again["instruments"], strict=True):
        assert (r1["added"], r1["replaced"], r1["unchanged"]) == (0, 0, r0["rows"])
        assert r1["written"] is False
    assert data_hashes(home) == before


def test_reimport_of_a_corrected_file_counts_changed_rows(home: Path, tmp_path: Path) -> None:
    c = sample(n=100)
    f = write_csv(tmp_path / "btc.csv", c)
    args = (
        "data",
        "import",
        str(f),
        "--symbol",
        "BTC/USDT",
        "--timeframe",
        "1h",
        "--exchange",
        "testex",
    )
    assert run(*args)[0] == 0
    vol = c.volume.copy()
    vol[[10, 20]] += 1.0
    more = sample(n=110)  # and ten new bars at the end
    vol = np.concatenate([vol, more.volume[100:]])
    fixed = Candles(more.ts, more.open, more.high, more.low, more.close, vol)
    write_csv(f, fixed)
    code, out = run(*args)
    assert code == 0
    row = out["instruments"][0]
    assert (row["added"], row["replaced"], row["unchanged"]) == (10, 2, 98)
    assert_same(home_catalog().load(inst("BTC/USDT", "1h")), fixed)


# ---- bad input: exit 2, JSON error, nothing written ------------------------------------------


def _csv_text(
    c: Candles,
    edit: Callable[[list[list[str]]], None] | None = None,
    header: str = "timestamp,open,high,low,close,volume",
) -> str:
    lines = [[str(t), *(repr(v) for v in r)] for t, r in zip(c.ts.tolist(), rows(c), strict=True)]
    if edit:
        edit(lines)
    return header + "\n" + "".join(",".join(line) + "\n" for line in lines)


def _swap(i: int, j: int) -> Callable[[list[list[str]]], None]:
    def f(lines: list[list[str]]) -> None:
        lines[i], lines[j] = lines[j], lines[i]

    return f


def _set(i: int, col: int, value: str) -> Callable[[list[list[str]]], None]:
    def f(lines: list[list[str]]) -> None:
        lines[i][col] = value

    return f


def _dup(i: int) -> Callable[[list[list[str]]], None]:
    def f(lines: list[list[str]]) -> None:
        lines[i] = list(lines[i - 1])

    return f


C = sample(n=40)
BAD_CSV: dict[str, tuple[str, str, str]] = {
    # case: (file content, error code, a word the message must contain)
    "missing_volume": (
        _csv_text(C, header="timestamp,open,high,low,close,vol"),
        "missing_columns",
        "volume",
    ),
    "missing_time": (
        _csv_text(C, header="when,open,high,low,close,volume"),
        "missing_columns",
        "time column",
    ),
    "not_monotonic": (_csv_text(C, _swap(5, 6)), "timestamps_not_monotonic", "row 6"),
    "duplicate": (_csv_text(C, _dup(7)), "timestamps_not_monotonic", "duplicate"),
    "bad_timestamp": (_csv_text(C, _set(3, 0, "yesterday")), "unparseable_timestamp", "row 3"),
    "off_grid": (
        _csv_text(C, _set(4, 0, str(int(C.ts[4]) + 60_000))),
        "timestamps_off_grid",
        "row 4",
    ),
    "nan": (_csv_text(C, _set(8, 4, "NaN")), "candles_not_finite", "NaN"),
    "inconsistent": (_csv_text(C, _set(9, 2, "1.0")), "candles_inconsistent", "row 9"),
    "not_a_number": (_csv_text(C, _set(2, 5, "lots")), "bad_number", "volume"),
    "empty": ("", "empty_file", "empty"),
    "header_only": ("timestamp,open,high,low,close,volume\n", "empty_file", "no rows"),
    "row_index_as_time": (
        _csv_text(C, lambda ls: [ln.__setitem__(0, str(i)) for i, ln in enumerate(ls)]),
        "unparseable_timestamp",
        "epoch",
    ),
}


@pytest.fixture
def stocked(home: Path, tmp_path: Path) -> dict[str, str]:
    """A catalog that already holds something, so 'unchanged' is a real comparison."""
    f = write_csv(tmp_path / "good.csv", sample(n=50, skip=1000))
    assert (
        run(
            "data",
            "import",
            str(f),
            "--symbol",
            "BTC/USDT",
            "--timeframe",
            "1h",
            "--exchange",
            "testex",
        )[0]
        == 0
    )
    return data_hashes(home)


def assert_refused(
    home: Path, before: dict[str, str], args: list[str], code: str, word: str
) -> dict[str, str]:
    exit_code, out = run("data", "import", *args)
    assert exit_code == 2, out
    assert set(out) == {"error"}
    err = out["error"]
    assert err["code"] == code, err
    assert word in err["message"], err
    assert err["suggestion"]
    assert data_hashes(home) == before
    return dict(err)


@pytest.mark.parametrize("case", list(BAD_CSV))
def test_bad_csv_is_refused_and_nothing_written(
    home: Path, tmp_path: Path, stocked: dict[str, str], case: str
) -> None:
    text, code, word = BAD_CSV[case]
    f = tmp_path / f"{case}.csv"
    f.write_text(text)
    err = assert_refused(
        home,
        stocked,
        [str(f), "--symbol", "BTC/USDT", "--timeframe", "1h", "--exchange", "testex"],
        code,
        word,
    )
    if code == "timestamps_off_grid":  # the bar length is a flag here, not in the checker
        assert "--timeframe" in err["suggestion"], err


def test_path_not_found(home: Path, tmp_path: Path, stocked: dict[str, str]) -> None:
    assert_refused(home, stocked, [str(tmp_path / "nope.csv")], "path_not_found", "nope.csv")


def test_unknown_file_type(home: Path, tmp_path: Path, stocked: dict[str, str]) -> None:
    f = tmp_path / "candles.xlsx"
    f.write_bytes(b"PK\x03\x04")
    assert_refused(home, stocked, [str(f), "--symbol", "BTC/USDT"], "unknown_file_type", ".xlsx")


def test_csv_needs_a_symbol(home: Path, tmp_path: Path, stocked: dict[str, str]) -> None:
    f = write_csv(tmp_path / "BTCUSDT_1h.csv", sample(n=10))
    err = assert_refused(home, stocked, [str(f)], "symbol_required", "BTCUSDT_1h.csv")
    assert "--symbol BTC/USDT" in err["suggestion"]


def test_corrupt_parquet(home: Path, tmp_path: Path, stocked: dict[str, str]) -> None:
    f = tmp_path / "broken.parquet"
    f.write_bytes(b"PAR1 this is not parquet")
    assert_refused(
        home, stocked, [str(f), "--symbol", "BTC/USDT"], "unreadable_file", "broken.parquet"
    )


def test_folder_is_all_or_nothing(home: Path, tmp_path: Path, stocked: dict[str, str]) -> None:
    freqtrade_folder(tmp_path)
    folder = tmp_path / "user_data" / "data" / "binance"
    bad = sample("XRP/USDT", "1h", n=30)
    high = bad.high.copy()
    high[12] = bad.low[12] * 0.5  # high below low: inconsistent
    write_feather(
        folder / "XRP_USDT-1h.feather",
        Candles(bad.ts, bad.open, high, bad.low, bad.close, bad.volume),
    )
    err = assert_refused(home, stocked, [str(folder)], "candles_inconsistent", "XRP_USDT-1h")
    assert "nothing was imported" in err["message"] and "row 12" in err["message"]


def test_folder_with_two_files_for_one_market(
    home: Path, tmp_path: Path, stocked: dict[str, str]
) -> None:
    folder = tmp_path / "binance"
    c = sample(n=20)
    write_feather(folder / "BTC_USDT-1h.feather", c)
    write_json(folder / "BTC_USDT-1h.json", c)
    assert_refused(home, stocked, [str(folder)], "duplicate_instrument", "BTC/USDT")


def test_folder_without_candle_files(home: Path, tmp_path: Path, stocked: dict[str, str]) -> None:
    (tmp_path / "binance").mkdir()
    (tmp_path / "binance" / "readme.md").write_text("hi")
    assert_refused(home, stocked, [str(tmp_path / "binance")], "nothing_to_import", "binance")


def test_bad_freqtrade_json_rows(home: Path, tmp_path: Path, stocked: dict[str, str]) -> None:
    f = tmp_path / "binance" / "BTC_USDT-1h.json"
    f.parent.mkdir()
    f.write_text(json.dumps([[1704067200000, 1, 2, 0.5, 1.5, 10], [1704070800000, 1, 2]]))
    assert_refused(home, stocked, [str(f)], "bad_row", "row 1")


def test_mark_candles_file_is_refused(home: Path, tmp_path: Path, stocked: dict[str, str]) -> None:
    f = write_feather(
        tmp_path / "binance" / "futures" / "BTC_USDT_USDT-1h-mark.feather", sample(n=10)
    )
    assert_refused(home, stocked, [str(f)], "not_candles", "mark")


# ---- library level ---------------------------------------------------------------------------


def test_plan_writes_nothing_and_import_path_returns_report(home: Path, tmp_path: Path) -> None:
    c = sample(n=24)
    f = write_csv(tmp_path / "a.csv", c, fmt=iso)
    plan = plan_import(f, "BTC/USDT", "1h", "testex")
    assert not (home / "data").exists()
    assert_same(plan.items[0].candles, c)
    cat = Catalog(home / "data", embedded=None)
    report = import_path(cat, f, "BTC/USDT", "1h", "testex")
    assert report["totals"] == {"rows": 24, "added": 24, "replaced": 0, "unchanged": 0}
    assert_same(cat.load(inst("BTC/USDT", "1h")), c)


def test_gaps_stay_uncovered(home: Path, tmp_path: Path) -> None:
    """An imported file vouches only for the bars it has: a gap is not marked as covered, so a
    later fetch can still fill it."""
    c = sample(n=48)
    keep = np.r_[0:10, 20:48]
    gappy = Candles(*(getattr(c, col)[keep] for col in Candles.COLUMNS))
    f = write_csv(tmp_path / "gappy.csv", gappy)
    cat = Catalog(home / "data", embedded=None)
    import_path(cat, f, "BTC/USDT", "1h", "testex")
    covered = cat.covered(inst("BTC/USDT", "1h"))
    assert covered == [(int(c.ts[0]), int(c.ts[10])), (int(c.ts[20]), int(c.ts[47]) + 3_600_000)]


def test_bad_input_is_an_exception_in_the_library(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as e:
        plan_import(tmp_path / "missing")
    assert e.value.code == "path_not_found" and e.value.exit_code == 2


def test_iso_without_zone_is_utc(home: Path, tmp_path: Path) -> None:
    f = tmp_path / "d.csv"
    f.write_text(
        "date,open,high,low,close,volume\n2024-03-01,1,2,0.5,1.5,10\n2024-03-02,1.5,2,1,1.8,12\n"
    )
    item = plan_import(f, "BTC/USDT", None, "testex").items[0]
    assert item.inst.timeframe == Timeframe.parse("1d")
    assert item.candles.ts.tolist() == [parse_utc("2024-03-01"), parse_utc("2024-03-02")]
