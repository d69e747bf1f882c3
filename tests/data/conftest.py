"""Fixtures for the data tests: a Binance emulator on 127.0.0.1 and settings pointing at it.

``rara_home`` (autouse, isolated per test) comes from ``tests/conftest.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from tests.emulators.exchange import BinanceEmulator

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def emulator() -> Iterator[BinanceEmulator]:
    with BinanceEmulator() as emu:
        yield emu


class Cli:
    """The real CLI in a subprocess, with ``$RARA_HOME`` isolated."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RARA_")}
        self.env["RARA_HOME"] = str(home)

    @staticmethod
    def prefix() -> list[str]:
        """`python -m rara`, once `data fetch` is registered with the app; until then the same
        app with the command's module imported first."""
        cli = REPO / "rara" / "cli"
        if any("data_fetch" in (cli / f).read_text() for f in ("__init__.py", "data.py")):
            return [sys.executable, "-m", "rara"]
        return [
            sys.executable,
            "-c",
            "import rara.cli.data_fetch; from rara.cli import main; main()",
        ]

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*self.prefix(), *args],
            env=self.env,
            cwd=REPO,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def run(self, *args: str, timeout: float = 60) -> CliResult:
        p = subprocess.run(
            [*self.prefix(), *args],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        try:
            out = json.loads(p.stdout)
        except json.JSONDecodeError:
            out = p.stdout
        return CliResult(p.returncode, out, p.stderr)


@dataclass
class CliResult:
    code: int
    out: Any  # parsed JSON from stdout, or the raw text if it was not JSON
    err: str


@pytest.fixture
def fetch_cli(rara_home: Path) -> Cli:
    """Like the shared ``cli`` fixture, plus `Cli.popen` for a run a test interrupts."""
    return Cli(rara_home)


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
