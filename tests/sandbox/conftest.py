"""Fixtures for the sandbox package tests. `rara_sandbox` lives under sandbox/ (it ships alone in
the container image), so it is put on sys.path here until packaging installs it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
SANDBOX = REPO / "sandbox"
if str(SANDBOX) not in sys.path:
    sys.path.insert(0, str(SANDBOX))

SAMPLE_1H = REPO / "rara" / "data" / "sample" / "binance" / "BTC-USDT" / "1h" / "2024.parquet"
STRATEGIES = REPO / "strategies"
Arrays = dict[str, np.ndarray]


def load_sample(path: Path = SAMPLE_1H) -> Arrays:
    import pyarrow.parquet as pq

    t = pq.read_table(path)
    out = {
        c: t.column(c).to_numpy().astype(np.float64)
        for c in ("open", "high", "low", "close", "volume")
    }
    out["timestamps"] = t.column("ts").cast("int64").to_numpy().astype(np.int64)
    return out


def synthetic(n: int, seed: int = 1) -> Arrays:
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


@pytest.fixture(scope="session")
def sample_candles() -> Arrays:
    return load_sample()


@pytest.fixture
def small_candles() -> Arrays:
    return synthetic(300)


@pytest.fixture(scope="session")
def make_candles() -> Callable[..., Arrays]:
    return synthetic


@pytest.fixture(scope="session")
def strategies_dir() -> Path:
    return STRATEGIES
