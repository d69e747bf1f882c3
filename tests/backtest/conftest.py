"""Fixtures for the backtest tests: the real candles shipped with rara (BTC/USDT 1h and 5m)."""

from __future__ import annotations

import pytest

from rara.domain.market import Candles
from tests.kit.candles import shipped_btc


@pytest.fixture
def btc_1h() -> Candles:
    return shipped_btc("1h")


@pytest.fixture
def btc_5m() -> Candles:
    return shipped_btc("5m")
