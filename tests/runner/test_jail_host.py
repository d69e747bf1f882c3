"""The host stays healthy: threads, a dying zygote, a dying host, and a non-root host."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rara.runner.jail.runner import LAYERS, JailedRunner, JailError, Limits, probe_layers
from tests.kit.paths import REPO
from tests.kit.patience import patience
from tests.kit.privilege import as_uid_65534

pytestmark = pytest.mark.slow
E = "jail_entries"
HERE = Path(__file__).resolve().parent


def children_of(ppid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == ppid:
                out.append(int(d))
    return out


def gone(pid: int) -> bool:
    """Dead: no such process, or a zombie waiting for a reaper that is not ours."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def wait_until(cond: Callable[[], bool], timeout: float = patience(1.0)) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def test_concurrent_runs_from_threads(runner: JailedRunner) -> None:
    payloads = [os.urandom(1000 + i) for i in range(24)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda p: runner.run(f"{E}:echo", p), payloads))
    assert [r.response for r in results] == payloads
    assert len({r.pid for r in results}) == len(payloads)  # a fresh process each time


def test_a_bad_child_does_not_disturb_a_concurrent_good_one(runner: JailedRunner) -> None:
    with ThreadPoolExecutor(2) as pool:
        bad = pool.submit(runner.run, f"{E}:memory_creep", b"", Limits(memory_bytes=256 << 20))
        goods = [pool.submit(runner.run, f"{E}:echo", b"%d" % i) for i in range(10)]
        assert [g.result().response for g in goods] == [b"%d" % i for i in range(10)]
        assert bad.result().error == "memory_limit"


def test_zygote_death_fails_inflight_runs_and_is_restarted(
    runner_factory: Callable[..., JailedRunner],
) -> None:
    with runner_factory() as runner:
        old = runner.zygote_pid
        assert old is not None
        box: dict[str, object] = {}
        t = threading.Thread(target=lambda: box.update(r=runner.run(f"{E}:sleep", b"60")))
        t.start()
        assert wait_until(lambda: bool(children_of(old)))
        (child,) = children_of(old)
        os.kill(old, signal.SIGKILL)
        t.join(20)
        r = box["r"]
        assert getattr(r, "error", None) == "zygote_died", r
        assert wait_until(lambda: gone(child)), "PDEATHSIG did not kill the orphan"
        payload = b"after the restart"
        r2 = runner.run(f"{E}:echo", payload)
        assert r2.ok and r2.response == payload
        assert runner.zygote_pid not in (None, old) and runner.restarts == 1


HOST_SCRIPT = """
import json, sys, threading, time, os
sys.path.insert(0, {here!r})
from rara.runner.jail.runner import LAYERS, JailedRunner, JailError, Limits, probe_layers
r = JailedRunner(warm=("jail_entries",), sys_path=[*sys.path, {here!r}])
r.start()
threading.Thread(target=r.run, args=("jail_entries:sleep", b"60", Limits(wall_s=60)),
                 daemon=True).start()
print(json.dumps({{"zygote": r.zygote_pid}}), flush=True)
time.sleep(120)
"""


def test_killing_the_host_kills_zygote_and_children() -> None:
    host = subprocess.Popen(
        [sys.executable, "-c", HOST_SCRIPT.format(here=str(HERE))],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert host.stdout is not None
        zygote = json.loads(host.stdout.readline())["zygote"]
        assert wait_until(lambda: bool(children_of(zygote)))
        (child,) = children_of(zygote)
        host.kill()
        host.wait()
        assert wait_until(lambda: gone(zygote)), "the zygote outlived the host"
        assert wait_until(lambda: gone(child)), "the jailed child outlived the host"
    finally:
        host.kill()
        host.wait()
        if host.stdout is not None:
            host.stdout.close()


NONROOT_SCRIPT = """
import json, sys
from rara.runner.jail.runner import JailedRunner
with JailedRunner(warm=("jail_entries",), sys_path=[*sys.path, {here!r}]) as r:
    ok = r.run("jail_entries:echo", b"non-root")
    net = r.run("jail_entries:network", b"9")
    ident = r.run("jail_entries:identity", b"")
    print(json.dumps({{
        "ok": ok.ok, "response": (ok.response or b"").decode(), "error": ok.error,
        "message": ok.message, "stderr": ok.stderr.decode(errors="replace")[-2000:],
        "layers": {{n: [l.active, l.detail] for n, l in ok.layers.items()}},
        "missing": ok.missing_layers, "net": (net.response or b"").decode(),
        "ident": json.loads(ident.response or b"{{}}"),
    }}))
"""


def test_runner_works_as_non_root_and_says_what_is_missing() -> None:
    if os.geteuid() != 0:
        pytest.skip("already non-root: the whole suite exercises that path")
    cmd = as_uid_65534(sys.executable, "-c", NONROOT_SCRIPT.format(here=str(HERE)))
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout)
    print("non-root layer report:", json.dumps(out["layers"], indent=1))
    assert out["ok"] and out["response"] == "non-root", out
    assert out["ident"]["resuid"][0] != 0
    layers = out["layers"]
    for name in (
        "rlimits",
        "seccomp",
        "process_group",
        "fds_closed",
        "empty_environment",
        "pdeathsig",
        "unprivileged_uid",
    ):
        assert layers[name][0], (name, layers[name])
    # Whatever is missing is named, with a reason; the rest still ran.
    for name in out["missing"]:
        assert layers.get(name, [False, ""])[1], name
    assert all(v.startswith("denied") for v in json.loads(out["net"]).values())


def test_missing_layers_are_reported_and_the_rest_still_runs(tmp_path: Path) -> None:
    with JailedRunner(warm=(E, "jail_degrade"), sys_path=[*sys.path, str(HERE)]) as runner:
        r = runner.run(f"{E}:identity", b"")
        assert r.ok, (r.error, r.message, r.stderr)
        assert set(r.missing_layers) == {"landlock", "seccomp"}
        assert "Landlock unavailable" in r.layers["landlock"].detail
        assert "simulated" in r.layers["seccomp"].detail
        assert r.layers["namespaces"].active and r.layers["rlimits"].active
        fork = runner.run(f"{E}:fork", b"")  # without seccomp, RLIMIT_NPROC still says no
        assert fork.ok and fork.response is not None
        assert json.loads(fork.response)["fork"].startswith("denied"), fork.response
    with JailedRunner(
        warm=(E, "jail_degrade"), sys_path=[*sys.path, str(HERE)], require=("seccomp",)
    ) as strict:
        canary = tmp_path / "called"
        r = strict.run(f"{E}:write_files", json.dumps([str(canary)]).encode())
        assert r.error == "setup_failed" and b"seccomp" in r.stderr, (r.error, r.stderr)
        assert r.missing_layers == ["landlock", "seccomp"]
        assert not canary.exists()


def test_a_broken_configuration_is_a_clear_error_not_a_hang() -> None:
    with pytest.raises(JailError, match="nope_not_a_module"):
        JailedRunner(warm=("nope_not_a_module",)).start()
    with pytest.raises(JailError, match="cannot start the zygote"):
        JailedRunner(python="/nonexistent/python").start()


def test_probe_layers_names_every_layer() -> None:
    layers = probe_layers()
    assert [lay.name for lay in layers] == list(LAYERS)
    assert all(lay.detail for lay in layers)


def test_zygote_backstop_kills_a_child_whose_host_thread_vanished(runner: JailedRunner) -> None:
    """A run whose host side never runs its session (as if the thread died): the zygote itself
    kills the child shortly after the deadline and reports it."""
    from rara.runner.jail.zygote import BACKSTOP_S

    zygote = runner.start()
    fds = [os.pipe() for _ in range(3)]
    msg = {
        "op": "spawn",
        "id": 10**9,
        "entry": f"{E}:sleep",
        "plan": {
            "limits": Limits(wall_s=0.5).to_dict(),
            "uid": 65534,
            "gid": 65534,
            "read_paths": [],
            "require": [],
        },
    }
    pending = zygote.submit(10**9, msg, [fds[0][0], fds[1][1], fds[2][1]])
    try:
        assert pending.exited.wait(0.5 + BACKSTOP_S + patience(1.0))
        assert pending.status is not None and os.WTERMSIG(pending.status) == signal.SIGKILL
    finally:
        zygote.forget(10**9)
        for r, w in fds:
            os.close(r)
            os.close(w)
