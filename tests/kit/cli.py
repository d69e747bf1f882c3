"""The real CLI in a fresh interpreter, the way a user runs it, with ``$RARA_HOME`` isolated; and
a snapshot of a directory tree, to prove a refused command wrote nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.kit.paths import REPO


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


def run_cli(
    home: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> CliResult:
    """`python -m rara *args` with RARA_HOME=home (``env`` overrides and adds)."""
    full_env = {**os.environ, "RARA_HOME": str(home), **(env or {})}
    p = subprocess.run(
        [sys.executable, "-m", "rara", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=REPO,
    )
    return CliResult(p.returncode, p.stdout, p.stderr)


@dataclass
class ParsedCliResult:
    code: int
    out: Any  # parsed JSON from stdout, or the raw text if it was not JSON
    err: str


class Cli:
    """The real CLI in a subprocess, with ``$RARA_HOME`` isolated and every other RARA_* variable
    dropped; `popen` for a run a test interrupts."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RARA_")}
        self.env["RARA_HOME"] = str(home)
        self._started: list[subprocess.Popen[str]] = []

    def popen(self, *args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rara", *args],
            env=self.env,
            cwd=REPO,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._started.append(proc)
        return proc

    def close(self) -> None:
        """Kill what `popen` started and is still running, and close its pipes (a test that
        interrupts a run never reads them to the end)."""
        for proc in self._started:
            if proc.poll() is None:
                proc.kill()
            with proc:  # Popen.__exit__ closes stdout and stderr and waits
                pass
        self._started.clear()

    def run(self, *args: str, timeout: float = 60) -> ParsedCliResult:
        p = subprocess.run(
            [sys.executable, "-m", "rara", *args],
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
        return ParsedCliResult(p.returncode, out, p.stderr)


def tree_snapshot(root: Path) -> dict[str, int]:
    """Paths and sizes under root: to prove a refused command wrote nothing."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}
