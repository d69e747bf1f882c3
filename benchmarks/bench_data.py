"""Catalog figures on one year of 1m candles (525,600 rows) for one symbol.

- load into numpy through DuckDB (target <= 50 ms warm) vs pyarrow reading the same files;
- DuckDB resample 1m -> 1h (read + aggregate in one query) vs pyarrow reading the same files and
  numpy reduceat over the arrays read.

Each figure and its reference is the min / median / max of 15 warm calls (5 with --quick).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.report import Figure, print_figures, quick, spread_ms
from rara.data.catalog import Catalog
from rara.domain.market import Candles, Instrument, Timeframe, parse_utc

ROWS = 525_600


def year_of_minutes(seed: int = 7) -> Candles:
    rng = np.random.default_rng(seed)
    close = 40_000 * np.exp(np.cumsum(rng.normal(0, 0.0008, ROWS)))
    open_ = np.concatenate([[40_000.0], close[:-1]])
    spread = np.abs(rng.normal(0, 0.0004, ROWS))
    ts = parse_utc("2023-01-01") + np.arange(ROWS, dtype=np.int64) * 60_000
    return Candles(
        ts,
        open_,
        np.maximum(open_, close) * (1 + spread),
        np.minimum(open_, close) * (1 - spread),
        close,
        rng.lognormal(1, 1, ROWS),
    )


def numpy_resample(c: Candles, factor: int) -> tuple[np.ndarray, ...]:
    idx = np.arange(0, len(c), factor)
    return (
        c.ts[idx],
        c.open[idx],
        np.maximum.reduceat(c.high, idx),
        np.minimum.reduceat(c.low, idx),
        c.close[np.minimum(idx + factor - 1, len(c) - 1)],
        np.add.reduceat(c.volume, idx),
    )


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp:
        cat = Catalog(Path(tmp), embedded=None)
        inst = Instrument(exchange="bench", symbol="BTC/USDT", timeframe=Timeframe.parse("1m"))
        candles = year_of_minutes()
        cat.write(inst, candles, source="bench")
        files = [str(p.path) for p in cat.period_files(inst).values()]
        loaded = cat.load(inst)
        assert len(loaded) == ROWS and np.array_equal(loaded.close, candles.close)

        assert files, "the catalog wrote no Parquet file"

        def pyarrow_read() -> Candles:
            t = pq.ParquetDataset(files).read()
            ts = t.column("ts").cast(pa.int64()).to_numpy()
            return Candles(ts, *(t.column(col).to_numpy() for col in Candles.COLUMNS[1:]))

        def pyarrow_read_resample() -> tuple[np.ndarray, ...]:
            return numpy_resample(pyarrow_read(), 60)

        repeat = 5 if quick() else 15
        load = spread_ms(lambda: cat.load(inst), repeat)
        ref_read = spread_ms(pyarrow_read, repeat)
        hourly = Timeframe.parse("1h")
        res = cat.resample(inst, hourly)
        ref = pyarrow_read_resample()
        assert np.array_equal(res.high, ref[2]) and np.array_equal(res.close, ref[4])
        resample = spread_ms(lambda: cat.resample(inst, hourly), repeat)
        ref_resample = spread_ms(pyarrow_read_resample, repeat)
    return [
        Figure(
            "catalog load 1y 1m -> numpy (DuckDB)",
            load,
            "ms",
            "pyarrow read same files",
            ref_read,
            "target <= 50 ms warm",
        ),
        Figure(
            "resample 1y 1m -> 1h (DuckDB SQL)",
            resample,
            "ms",
            "pyarrow read + numpy reduceat",
            ref_resample,
            "both read the same files",
        ),
    ]


if __name__ == "__main__":
    print_figures("market data catalog (525,600 1m bars)", run())
