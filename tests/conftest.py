"""Shared fixtures. Every test gets its own RARA_HOME so nothing touches ~/.rara."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.emulators.openai_emulator import OpenAIEmulator, running
from tests.kit.cli import CliResult, run_cli


def pytest_configure(config: pytest.Config) -> None:
    # A suite started in the background by a shell without job control (`cmd &` in a script)
    # inherits SIGINT ignored, and so does every process it starts: Python then installs no
    # KeyboardInterrupt handler, and the tests that stop a command the way Ctrl-C does would
    # see it ignore them. A handler (unlike "ignored") is reset by exec, so the commands the
    # tests start get Python's own again.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def rara_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "rara_home"
    monkeypatch.setenv("RARA_HOME", str(home))
    for name in list(os.environ):
        if name.startswith("RARA_") and name != "RARA_HOME":
            monkeypatch.delenv(name)
    return home


@pytest.fixture
def cli(rara_home: Path) -> Callable[..., CliResult]:
    """Run `rara ...` in a fresh interpreter, the way a user does."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> CliResult:
        return run_cli(rara_home, *args, env=env, timeout=timeout)

    return run


@pytest.fixture
def emu() -> Iterator[OpenAIEmulator]:
    """An OpenAI-compatible emulator on 127.0.0.1, script empty (tests add replies)."""
    with running() as emulator:
        yield emulator
