"""Fixtures for the sandbox package tests: shipped and random-walk candles as the runtime's column
arrays, and the strategies directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.kit.candles import Arrays, random_walk, sample_arrays
from tests.kit.paths import STRATEGIES


@pytest.fixture(scope="session")
def sample_candles() -> Arrays:
    return sample_arrays()


@pytest.fixture
def small_candles() -> Arrays:
    return random_walk(300)


@pytest.fixture(scope="session")
def make_candles() -> Callable[..., Arrays]:
    return random_walk


@pytest.fixture(scope="session")
def strategies_dir() -> Path:
    return STRATEGIES
