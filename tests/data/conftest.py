"""Fixtures for the data tests: a Binance emulator on 127.0.0.1 and settings pointing at it.

``rara_home`` (autouse, isolated per test) comes from ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from tests.emulators.exchange import BinanceEmulator
from tests.kit.cli import Cli


@pytest.fixture
def emulator() -> Iterator[BinanceEmulator]:
    with BinanceEmulator() as emu:
        yield emu


@pytest.fixture
def fetch_cli(rara_home: Path) -> Iterator[Cli]:
    """Like the shared ``cli`` fixture, plus `Cli.popen` for a run a test interrupts."""
    cli = Cli(rara_home)
    yield cli
    cli.close()


@pytest.fixture
def configure(rara_home: Path, emulator: BinanceEmulator) -> Callable[..., None]:
    """Write ``$RARA_HOME/config.toml`` pointing binance at the emulator, with fast pacing and
    retries; keyword arguments override ``[data]`` settings."""

    def write(**data: Any) -> None:
        tree = {
            "rate_limit_ms": 1,
            "backoff_base_s": 0.01,
            "backoff_max_s": 0.05,
            "request_timeout_ms": 20_000,
            "url_overrides": {"binance": {"public": emulator.api_url}},
            **data,
        }
        rara_home.mkdir(parents=True, exist_ok=True)
        (rara_home / "config.toml").write_text(tomli_w.dumps({"data": tree}), encoding="utf-8")

    write()
    return write
