"""Fixtures of the registry's tests: the synthetic candles, made once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.kit.cli import run_cli
from tests.registry.remote_kit import SYNTH, SYNTH_EDGE


@pytest.fixture(scope="session")
def candles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding synthetic EDGE/USDT 1h candles with a planted momentum edge."""
    home = tmp_path_factory.mktemp("candles-home")
    r = run_cli(home, "data", "synth", *SYNTH, *SYNTH_EDGE)
    assert r.code == 0, r.stdout + r.stderr
    return home / "data"
