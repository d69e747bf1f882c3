"""Fixtures for the backtest tests: the real candles shipped with rara (BTC/USDT 1h and 5m)."""

from __future__ import annotations

import functools

import pytest

from rara.data.catalog import default_catalog
from rara.domain.market import Candles, Instrument, Timeframe


@functools.cache
def _load(timeframe: str) -> Candles:
    inst = Instrument(exchange="binance", symbol="BTC/USDT", timeframe=Timeframe.parse(timeframe))
    return default_catalog().load(inst)


@pytest.fixture
def btc_1h() -> Candles:
    return _load("1h")


@pytest.fixture
def btc_5m() -> Candles:
    return _load("5m")
