"""Candles for tests: the real BTC/USDT bars shipped with rara, as `Candles` or as the plain
column arrays the sandbox runtime takes, and a seeded random walk with valid OHLC relations."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rara.domain.market import Candles, Instrument, Timeframe
from tests.kit.paths import SAMPLE_BTC_1H

if TYPE_CHECKING:
    from rara.data.catalog import Catalog

Arrays = dict[str, np.ndarray]


def shipped_catalog() -> Catalog:
    """The candles shipped with rara and nothing else: no home is read."""
    from rara.data.catalog import EMBEDDED_ROOT, Catalog

    return Catalog(EMBEDDED_ROOT, embedded=None)


def home_catalog() -> Catalog:
    """The catalog of the test's home (`$RARA_HOME`, a fresh directory per test): what the CLI
    writes to and reads from."""
    from rara.data.catalog import Catalog
    from rara.home import Home

    return Catalog(Home.from_env().data_dir)


@functools.cache
def shipped_btc(timeframe: str) -> Candles:
    """The shipped BTC/USDT candles at this timeframe, loaded once per process."""
    inst = Instrument(exchange="binance", symbol="BTC/USDT", timeframe=Timeframe.parse(timeframe))
    return shipped_catalog().load(inst)


def sample_arrays(path: Path = SAMPLE_BTC_1H) -> Arrays:
    """One shipped parquet file as the sandbox's column arrays (float64 OHLCV, int64 ms)."""
    import pyarrow.parquet as pq

    t = pq.read_table(path)
    out = {
        c: t.column(c).to_numpy().astype(np.float64)
        for c in ("open", "high", "low", "close", "volume")
    }
    out["timestamps"] = t.column("ts").cast("int64").to_numpy().astype(np.int64)
    return out


def random_walk(n: int, seed: int = 1) -> Arrays:
    """A random-walk OHLCV series (hourly bars), valid OHLC relations."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    wick = np.abs(rng.normal(0, 0.004, n))
    return {
        "timestamps": 1_704_067_200_000 + np.arange(n, dtype=np.int64) * 3_600_000,
        "open": open_,
        "high": np.maximum(open_, close) * (1 + wick),
        "low": np.minimum(open_, close) * (1 - wick),
        "close": close,
        "volume": rng.lognormal(1, 1, n),
    }
