"""What the jailed child cannot do, each checked from outside the child where possible."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rara.runner.jail import landlock
from rara.runner.jail.runner import LAYERS, JailedRunner, Limits

pytestmark = pytest.mark.slow
E = "jail_entries"


def ok_json(runner: JailedRunner, fn: str, request: bytes = b"") -> dict[str, Any]:
    r = runner.run(f"{E}:{fn}", request)
    assert r.ok, (r.error, r.message, r.stderr[-2000:])
    assert r.response is not None
    out: dict[str, Any] = json.loads(r.response)
    return out


def assert_next_evaluation_correct(runner: JailedRunner) -> None:
    payload = os.urandom(1000)
    r = runner.run(f"{E}:echo", payload)
    assert r.ok and r.response == payload


def test_all_layers_active_on_this_machine(runner: JailedRunner) -> None:
    if os.geteuid() != 0 or landlock.abi_version() < 1:
        pytest.skip(
            f"needs root and Landlock (euid {os.geteuid()}, Landlock ABI {landlock.abi_version()})"
        )
    r = runner.run(f"{E}:echo", b"x")
    assert r.ok
    assert set(r.layers) == set(LAYERS)
    assert r.missing_layers == [], {n: r.layers[n].detail for n in r.missing_layers}


def test_no_network(runner: JailedRunner) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        port = listener.getsockname()[1]
        out = ok_json(runner, "network", str(port).encode())
        with pytest.raises(BlockingIOError):  # nobody knocked
            listener.accept()
    assert all(v.startswith("denied") for v in out.values()), out
    assert "PermissionError" in out["socket"]
    assert_next_evaluation_correct(runner)


def test_cannot_exec_a_shell(runner: JailedRunner, open_dir: Path) -> None:
    canary = open_dir / "exec-canary"
    out = ok_json(runner, "exec_shell", str(canary).encode())
    assert "PermissionError" in out["execv"], out
    assert "PermissionError" in out["subprocess"], out
    assert out["system"] == f"ALLOWED: {127 << 8}", out  # glibc's "the shell could not run"
    assert not canary.exists()


def test_cannot_fork_or_spawn_threads(runner: JailedRunner) -> None:
    out = ok_json(runner, "fork")
    assert out["fork"].startswith("denied: PermissionError"), out
    assert out["thread"].startswith("denied"), out  # RLIMIT_NPROC=0 as uid 65534


def test_cannot_write_files_anywhere(runner: JailedRunner, open_dir: Path) -> None:
    targets = [
        open_dir / "canary",
        Path("/tmp") / f"rara-jail-canary-{os.getpid()}",
        Path("/dev/shm") / f"rara-jail-canary-{os.getpid()}",
        Path(__file__).parent / "canary-in-tests",
    ]
    out = ok_json(runner, "write_files", json.dumps([str(t) for t in targets]).encode())
    assert all(v.startswith("denied") for v in out.values()), out
    for t in targets:
        assert not t.exists(), t


def test_cannot_read_a_canary_that_permissions_would_allow(
    runner: JailedRunner, open_dir: Path
) -> None:
    canary = open_dir / "secret.txt"
    canary.write_text("the key")
    os.chmod(canary, 0o644)
    if os.geteuid() == 0:  # prove it is the jail, not file permissions: uid 65534 can read it
        code = f"import os; os.setgid(65534); os.setuid(65534); print(open({str(canary)!r}).read())"
        probe = subprocess.run(
            [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, cwd="/"
        )
        assert probe.stdout.strip() == "the key" or "Permission" in probe.stderr
    out = ok_json(runner, "read_file", str(canary).encode())
    assert out["read"].startswith("denied: PermissionError"), out
    assert out["listdir"].startswith("denied"), out


def test_environment_is_empty(runner: JailedRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    assert ok_json(runner, "environment") == {}


def test_identity_fds_limits_hostname(runner: JailedRunner) -> None:
    out = ok_json(runner, "identity")
    if os.geteuid() == 0:
        assert out["resuid"] == [65534] * 3
        assert out["resgid"] == [65534] * 3
        assert out["groups"] == []
    assert out["fds"] == [0, 1, 2, 3]
    assert out["pgid"] == out["pid"] == out["sid"]
    assert out["hostname"] == "sandbox"
    lim = Limits()
    rl = out["rlimits"]
    assert rl["RLIMIT_AS"] == [lim.memory_bytes] * 2
    assert rl["RLIMIT_CPU"] == [lim.cpu_s, lim.cpu_s + 1]
    assert rl["RLIMIT_FSIZE"] == [0, 0]
    assert rl["RLIMIT_NOFILE"] == [lim.open_files] * 2
    assert rl["RLIMIT_NPROC"] == [0, 0]
    assert rl["RLIMIT_CORE"] == [0, 0]


def test_cannot_signal_the_host_or_the_zygote(runner: JailedRunner) -> None:
    targets = [os.getpid(), runner.zygote_pid, 1]
    out = ok_json(runner, "signal_others", json.dumps(targets).encode())
    for pid in targets:
        assert out[str(pid)].startswith("denied: PermissionError"), out
    assert out["self_signal_0"].startswith("ALLOWED")
    assert runner.zygote_pid is not None
    os.kill(runner.zygote_pid, 0)  # still there
    assert_next_evaluation_correct(runner)


@pytest.mark.parametrize("entry", ["ptrace", "unshare"])
def test_escape_syscalls_kill_the_child(runner: JailedRunner, entry: str) -> None:
    r = runner.run(f"{E}:{entry}", b"")
    assert not r.ok
    assert r.error == "forbidden_syscall", (r.error, r.message, r.stderr)
    assert r.signal == 31  # SIGSYS
    assert_next_evaluation_correct(runner)
