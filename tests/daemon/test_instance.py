"""The single-instance lock per $RARA_HOME, against a real second process: refused while it
holds the lock (with its pid), free the moment it is SIGKILLed (the kernel drops a flock), and
`running_daemon` tells which pid holds it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rara.daemon.instance import instance_lock, running_daemon
from rara.errors import Refused
from rara.home import Home
from tests.kit.paths import REPO
from tests.kit.patience import patience

HOLDER = """
import sys, time
from pathlib import Path
from rara.daemon.instance import instance_lock
from rara.home import Home
with instance_lock(Home(root=Path(sys.argv[1]))) as pid:
    print(pid, flush=True)
    time.sleep(600)
"""


def test_a_second_daemon_is_refused_until_the_first_is_killed(rara_home: Path) -> None:
    home = Home.from_env()
    assert running_daemon(home) is None
    assert not rara_home.exists()  # asking created nothing
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(rara_home)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert holder.stdout is not None
        assert int(holder.stdout.readline()) == holder.pid
        assert running_daemon(home) == holder.pid
        with pytest.raises(Refused) as refused, instance_lock(home):
            pytest.fail("took a lock another daemon holds")
        err = refused.value
        assert err.code == "daemon_running"
        assert f"pid {holder.pid}" in err.message
        assert f"kill -TERM {holder.pid}" in err.suggestion and "RARA_HOME" in err.suggestion
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(patience(2.0))
        assert holder.stdout is not None
        holder.stdout.close()
    assert home.lock_file.exists()  # the killed daemon's file is left behind, and blocks nothing
    assert running_daemon(home) is None
    with instance_lock(home) as pid:
        assert pid == os.getpid() and running_daemon(home) == pid
        assert home.lock_file.read_text().strip() == str(pid)
    assert running_daemon(home) is None
