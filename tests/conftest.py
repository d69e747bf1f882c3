"""Shared fixtures. Every test gets its own RARA_HOME so nothing touches ~/.rara."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_SAMPLE = REPO.parent / "shared" / "data" / "sample"


@pytest.fixture(autouse=True)
def rara_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "rara_home"
    monkeypatch.setenv("RARA_HOME", str(home))
    for name in list(os.environ):
        if name.startswith("RARA_") and name != "RARA_HOME":
            monkeypatch.delenv(name)
    return home


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def error(self) -> dict[str, str]:
        return dict(self.json["error"])


@pytest.fixture
def cli(rara_home: Path) -> Callable[..., CliResult]:
    """Run `rara ...` in a fresh interpreter, the way a user does."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> CliResult:
        full_env = {**os.environ, "RARA_HOME": str(rara_home), **(env or {})}
        p = subprocess.run(
            [sys.executable, "-m", "rara", *args],
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
            cwd=REPO,
        )
        return CliResult(p.returncode, p.stdout, p.stderr)

    return run


def tree_snapshot(root: Path) -> dict[str, int]:
    """Paths and sizes under root: to prove a refused command wrote nothing."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}
