"""A sandbox container never outlives the rara process that started it.

A CLI killed with SIGKILL mid-evaluation runs no cleanup: its container must stop by itself (the
engine closes the container's stdin when the CLI's end of the stream goes, and rara_sandbox exits
on that EOF), stop itself at its own deadline when stdin stays open, carry a CPU quota meanwhile,
and be removed by the next rara that starts a container (its labels name an owner that is gone).
Real engine, real image, real CLI; skips without an engine (fails in CI).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rara.runner.container.config import LABEL, LABEL_DEADLINE
from rara.runner.container.io import close_attached
from rara.runner.container.owner import (
    LABEL_OWNER_HOST,
    LABEL_OWNER_PID,
    LABEL_OWNER_START,
    LABEL_STARTED,
)
from rara_sandbox.protocol import encode_request
from rara_sandbox.serve import EXIT_BAD_REQUEST, EXIT_DEADLINE, EXIT_HOST_GONE
from tests.kit.candles import random_walk
from tests.kit.cli import Cli
from tests.kit.paths import REPO
from tests.kit.patience import patience
from tests.kit.strategies import SPINS_FOREVER

pytestmark = pytest.mark.slow

# One C call of minutes (the last squarings of a 2.8e9-bit power): the GIL is never released.
HOLDS_THE_GIL = SPINS_FOREVER.replace(
    "    while True:\n        pass\n", "    return 7 ** (10 ** 9)\n"
)


def _poll(what: str, until: Callable[[], Any], timeout_s: float) -> Any:
    """`until()`'s first truthy answer; fails after `timeout_s` (a hang guard, not a timing)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        got = until()
        if got:
            return got
        time.sleep(0.25)
    pytest.fail(f"{what}: not within {timeout_s:g} s")


def _state(client: Any, cid: str) -> dict[str, Any] | None:
    """The container's State, None once it is removed."""
    import docker

    try:
        return dict(client.api.inspect_container(cid)["State"])
    except docker.errors.NotFound:
        return None


def _remove(client: Any, cids: list[str]) -> None:
    import docker

    for cid in cids:
        with contextlib.suppress(docker.errors.NotFound):
            client.api.remove_container(cid, force=True)


def test_container_dies_with_a_killed_cli_and_the_next_start_removes_it(
    tmp_path: Path, docker_client: Any, sandbox_image: str, make_sandbox: Callable[..., Any]
) -> None:
    strategy = tmp_path / "spin.py"
    strategy.write_text(SPINS_FOREVER)
    cli = Cli(tmp_path / "home")
    # The CLI's own deadline is an hour away: only the container noticing its host's death can
    # stop it in time. The image is this checkout's; the CPU quota comes from the settings.
    cli.env.update(
        RARA_SANDBOX__IMAGE=sandbox_image,
        RARA_SANDBOX__WALL_TIMEOUT_S="3600",
        RARA_SANDBOX__CPUS="0.5",
    )
    proc = cli.popen(
        *("backtest", "run", str(strategy), "--symbol", "BTC/USDT", "--timeframe", "1h"),
        *("--backend", "docker"),
    )
    owned = {"label": [LABEL, f"{LABEL_OWNER_PID}={proc.pid}"]}
    cids: list[str] = []
    try:

        def running() -> list[Any]:
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"the CLI ended (exit {proc.returncode}) before it ran: {out}{err}")
            return list(docker_client.containers.list(filters={**owned, "status": "running"}))

        (container,) = _poll("the CLI's container running", running, patience(30))
        cids.append(container.id)
        info = docker_client.api.inspect_container(container.id)
        labels = info["Config"]["Labels"]
        assert labels[LABEL_OWNER_HOST] and labels[LABEL_OWNER_START]
        assert float(labels[LABEL_STARTED]) <= time.time()
        assert info["HostConfig"]["NanoCpus"] == 500_000_000  # sandbox.cpus = 0.5

        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        state = _poll(
            "the container stopping after its CLI was killed",
            lambda: (s := _state(docker_client, container.id)) is None or (not s["Running"] and s),
            patience(12),
        )
        if state is not True:  # still there, stopped: by itself, on its host's EOF
            # EOF after the request: host gone; EOF inside it (on a loaded machine the container
            # can be running before the killed CLI finished writing the candles): a request
            # cut short. Either way the container ended itself because its host died.
            assert state["ExitCode"] in (EXIT_HOST_GONE, EXIT_BAD_REQUEST), state

        # The next start of any sandbox removes it: its owner is gone.
        assert make_sandbox(standin=True).run(b'{"do": "echo"}\nping').ok
        assert _state(docker_client, container.id) is None
    finally:
        cli.close()
        _remove(docker_client, cids)
        _remove(
            docker_client, [c.id for c in docker_client.containers.list(all=True, filters=owned)]
        )


@pytest.mark.parametrize(
    ("source", "status"),
    [(SPINS_FOREVER, EXIT_DEADLINE), (HOLDS_THE_GIL, 128 + signal.SIGKILL)],
    ids=["python_loop:own_deadline", "one_c_call:cpu_rlimit"],
)
def test_container_stops_itself_at_its_own_deadline_with_stdin_open(
    make_sandbox: Callable[..., Any], docker_client: Any, source: str, status: int
) -> None:
    """A host that is alive but never kills (hung, or stopped with SIGSTOP) holds stdin open:
    the container's own deadline (the host's plus a margin) still ends it, and code that never
    lets the deadline thread run is ended by the CPU rlimit set a margin past it."""
    from rara.runner.container.config import own_cpu_limit_s, own_deadline_s

    sb = make_sandbox(wall_s=1.0, memory_bytes=1 << 30)
    api = docker_client.api
    cid = sb.create_container()
    attached = None
    try:
        attached = api.attach_socket(
            cid, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
        )
        api.start(cid)
        attached._sock.sendall(encode_request(source, random_walk(200)))
        limits = api.exec_start(api.exec_create(cid, ["cat", "/proc/1/limits"])).decode()
        cpu = next(ln for ln in limits.splitlines() if ln.startswith("Max cpu time"))
        want = own_deadline_s(sb.limits)
        assert cpu.split()[3:5] == [str(own_cpu_limit_s(sb.limits))] * 2, cpu

        state = _poll(
            "the container stopping at its own deadline",
            lambda: (s := _state(docker_client, cid)) and not s["Running"] and s,
            want + patience(12),
        )
        assert state["ExitCode"] == status and not state["OOMKilled"], state
    finally:
        close_attached(attached)
        _remove(docker_client, [cid])


def test_next_start_removes_containers_whose_owner_is_gone(
    make_sandbox: Callable[..., Any],
    sandbox_image: str,
    session_label: dict[str, str],
    session_containers: Callable[[], list[Any]],
) -> None:
    # A process creates a container and dies without removing it, as a SIGKILLed rara would.
    ((key, value),) = session_label.items()
    code = (
        "import sys\n"
        "from rara.runner.container.runner import ContainerRunner\n"
        "runner = ContainerRunner(sys.argv[1], extra_labels={sys.argv[2]: sys.argv[3]})\n"
        "print(runner.create_container())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, sandbox_image, key, value],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=patience(30),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    dead_owner = done.stdout.strip()
    # Another host's containers cannot be checked by pid: their deadline decides.
    elsewhere = {LABEL_OWNER_HOST: "another-host.invalid"}
    long_ago = {**elsewhere, LABEL_DEADLINE: f"{time.time() - 3600:.3f}"}
    expired = make_sandbox(standin=True, labels=long_ago).create_container()
    in_flight = make_sandbox(standin=True, labels=elsewhere).create_container()
    mine = make_sandbox(standin=True).create_container()  # this live process's evaluation
    try:
        assert {c.id for c in session_containers()} == {dead_owner, expired, in_flight, mine}
        # the next start: a runner's first run
        assert make_sandbox(standin=True).run(b'{"do": "echo"}\nping').ok
        assert {c.id for c in session_containers()} == {in_flight, mine}
    finally:
        for c in session_containers():
            c.remove(force=True)
