"""The real `rara tui --replay RARA_DB` in a real terminal (tmux): it connects to the server it
starts over the DB, shows the tabs, switches to one on a key, and quits on q. tmux is in CI
(scripts/ci-docker.sh installs it); elsewhere the test skips when tmux is absent."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.kit.live import wait_for
from tests.kit.paths import REPO

pytestmark = pytest.mark.slow
# read at import: the suite's autouse fixture clears RARA_* variables before each test
IN_CI = bool(os.environ.get("RARA_REQUIRE_DOCKER"))


def _tmux(*args: str) -> str:
    done = subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_rara_tui_replay_in_tmux(planted_home: Path, tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        if IN_CI:
            pytest.fail("CI installs tmux (scripts/ci-docker.sh); none is here")
        pytest.skip("tmux is not installed here (CI installs it)")
    session = f"rara-tui-{uuid.uuid4().hex[:8]}"
    db = planted_home / "rara.db"
    cmd = (
        f"cd {REPO} && RARA_HOME={tmp_path} TERM=xterm-256color "
        f"{sys.executable} -m rara tui --replay {db}; echo EXITED $? ; sleep 600"
    )
    # -x/-y: a fixed terminal size; its own server (-L) so no user's tmux is touched
    _tmux("-L", session, "new-session", "-d", "-s", session, "-x", "140", "-y", "40", cmd)
    try:

        def screen() -> str:
            return _tmux("-L", session, "capture-pane", "-p", "-t", session)

        def shows(text: str) -> bool:
            return text in screen()

        wait_for(lambda: shows("connected to replay of"), 120, 0.5, "the TUI connected")
        assert "Overview" in screen() and "Events" in screen()
        wait_for(lambda: shows("trading ACTIVE"), 60, 0.5, "the overview")
        _tmux("-L", session, "send-keys", "-t", session, "K")  # the kill switch asks first
        wait_for(lambda: shows("Halt trading"), 60, 0.5, "the kill switch dialog")
        _tmux("-L", session, "send-keys", "-t", session, "n")
        wait_for(lambda: not shows("Halt trading"), 60, 0.5, "the dialog dismissed")
        _tmux("-L", session, "send-keys", "-t", session, "q")
        wait_for(lambda: shows("EXITED 0"), 60, 0.5, "rara tui exited")
    except AssertionError:
        print(screen())
        raise
    finally:
        subprocess.run(["tmux", "-L", session, "kill-server"], capture_output=True, timeout=60)
