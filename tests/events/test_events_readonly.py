"""A read-only home is an environment fault, never tampering: `events verify` and `events query`
read it as it is, and a command that must write says "read-only home" and what to do.

Read-only is made honestly, by the operating system: as an ordinary user, ``chmod``; as root
(CI runs as root, and permissions never stop root), a read-only bind mount of the home inside a
private user and mount namespace (``unshare -rm``), where the kernel answers EROFS to every write.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from rara.domain.market import Instrument, Timeframe
from rara.research.models import experiment_id
from rara.research.record import IterationResult
from rara.research.store import ResearchStore
from tests.kit.cli import CliResult, run_cli
from tests.kit.paths import REPO

RUN_ENDED = '{"stop_reason": "iterations", "counts": {}, "cost_usd": 0}'
_MOUNT_RO = 'mount --bind "$H" "$H" && mount -o remount,bind,ro "$H" && exec "$@"'


def _can_mount_read_only(home: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", _MOUNT_RO + " && false", "sh", "true"],
        env={**os.environ, "H": str(home)},
        capture_output=True,
        timeout=60,
    )
    return probe.returncode == 0


def read_only_runner(home: Path) -> Callable[..., CliResult]:
    """`rara ...` against `home` made read-only by the OS; skips where no honest way exists."""
    if os.geteuid() != 0:
        for p in [home, *home.iterdir()]:
            p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        return lambda *args: run_cli(home, *args)
    if not _can_mount_read_only(home):
        pytest.skip("running as root without user namespaces: no honest way to deny writes")

    def run(*args: str) -> CliResult:
        p = subprocess.run(
            ["unshare", "-rm", "sh", "-c", _MOUNT_RO, "sh", sys.executable, "-m", "rara", *args],
            capture_output=True,
            text=True,
            env={**os.environ, "RARA_HOME": str(home), "H": str(home)},
            timeout=120,
            cwd=REPO,
        )
        return CliResult(p.returncode, p.stdout, p.stderr)

    return run


def _restore(home: Path) -> None:
    for p in [home, *home.iterdir()]:
        p.chmod(p.stat().st_mode | stat.S_IWUSR)


def test_read_only_home_verifies_and_refuses_writes_as_read_only(
    rara_home: Path, cli: Callable[..., CliResult]
) -> None:
    for _ in range(3):
        assert (
            cli("events", "append", "--type", "research_run_ended", "--payload", RUN_ENDED).code
            == 0
        )
    # a clean close leaves no -wal: the state a home is in when someone makes it read-only
    assert not (rara_home / "rara.db-wal").exists()
    run = read_only_runner(rara_home)
    try:
        verified = run("events", "verify")
        assert verified.code == 0, verified.stdout + verified.stderr
        assert verified.json["ok"] and verified.json["events_checked"] == 3

        queried = run("events", "query")
        assert queried.code == 0, queried.stdout + queried.stderr
        assert [json.loads(x)["seq"] for x in queried.stdout.splitlines()] == [1, 2, 3]

        listed = run("research", "list")  # reading needs no write: nothing listed, no error
        assert listed.code == 0 and listed.stdout == "", listed.stdout + listed.stderr

        refused = run("events", "append", "--type", "research_run_ended", "--payload", RUN_ENDED)
        assert refused.code == 1, refused.stdout + refused.stderr
        err = refused.error
        assert err["code"] == "read_only_home", err
        assert "read-only" in err["message"] and "writable" in err["suggestion"]
        assert "Traceback" not in refused.stderr
    finally:
        if os.geteuid() != 0:
            _restore(rara_home)
    # nothing was written: the log is as it was
    assert cli("events", "verify").json["events_checked"] == 3


def test_research_rows_read_from_a_read_only_home_and_writes_say_why_not(
    rara_home: Path, cli: Callable[..., CliResult]
) -> None:
    inst = Instrument(exchange="binance", symbol="BTC/USDT", timeframe=Timeframe.parse("1h"))
    row = IterationResult(
        iteration=0, experiment_id=experiment_id("run-a", 0), outcome="error", failed_check="x"
    ).experiment("run-a", "builtin", inst, 10)
    with ResearchStore(rara_home / "rara.db") as store:
        store.record(row, None)
    run = read_only_runner(rara_home)
    try:
        listed = run("research", "list")
        assert listed.code == 0, listed.stdout + listed.stderr
        assert json.loads(listed.stdout)["experiment_id"] == row.experiment_id
        shown = run("research", "show", "--experiment-id", row.experiment_id)
        assert shown.code == 0, shown.stdout + shown.stderr
        verified = run("events", "verify")
        assert verified.code == 0 and verified.json["rows_checked"] == 1, verified.stdout
    finally:
        if os.geteuid() != 0:
            _restore(rara_home)
