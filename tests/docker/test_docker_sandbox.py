"""The container sandbox against a real engine: every restriction is recorded by the engine and
holds from inside, every escape attempt ends in a clear error on the host, the deadline and the
output cap kill, and no container is ever left behind. Skips without an engine (fails in CI)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from rara.runner.container.runner import (
    LABEL,
    LABEL_DEADLINE,
    ContainerResult,
    ContainerRunner,
    check_host_config,
)
from tests.kit.paths import TEMPLATE
from tests.kit.patience import patience

pytestmark = pytest.mark.slow
MiB = 1 << 20


def act(
    sandbox: ContainerRunner, action: dict[str, Any], payload: bytes = b"", **limits: Any
) -> ContainerResult:
    from rara.runner.container.runner import ContainerLimits

    lim = ContainerLimits(**{**sandbox.limits.__dict__, **limits})
    return sandbox.run(json.dumps(action).encode() + b"\n" + payload, lim)


# -- what the engine records, before start --------------------------------------------------------


def test_engine_records_every_restriction_before_start(
    make_sandbox: Callable[..., Any], docker_client: Any
) -> None:
    sb = make_sandbox(standin=True, memory_bytes=256 * MiB, cpus=0.5, pids=32, tmpfs_bytes=8 * MiB)
    cid = sb.create_container()
    try:
        info = docker_client.api.inspect_container(cid)
        hc, cfg = info["HostConfig"], info["Config"]
        assert info["State"]["Status"] == "created"
        assert hc["NetworkMode"] == "none" and cfg.get("NetworkDisabled") is True
        assert hc["ReadonlyRootfs"] is True
        assert hc["Tmpfs"] == {"/tmp": f"size={8 * MiB},noexec,nosuid,nodev"}
        assert hc["CapDrop"] == ["ALL"] and not hc["CapAdd"]
        assert "no-new-privileges" in hc["SecurityOpt"]
        assert hc["Privileged"] is False
        assert hc["Memory"] == hc["MemorySwap"] == 256 * MiB
        assert hc["NanoCpus"] == 500_000_000
        assert hc["PidsLimit"] == 32
        assert hc["LogConfig"]["Type"] == "none"
        assert not hc["Binds"] and not hc.get("Mounts") and not hc["Devices"]
        assert cfg["User"] == "65534:65534"
        assert cfg["OpenStdin"] is True and cfg["StdinOnce"] is True and cfg["Tty"] is False
        assert cfg["Entrypoint"][:3] == ["python3", "-I", "-c"]  # the stand-in's command
        assert "PYTHONHASHSEED=0" in (cfg["Env"] or [])  # fixed str hashing, as in the jail
        assert all(
            e.split("=", 1)[0]
            in {"PATH", "LANG", "GPG_KEY", "PYTHON_VERSION", "PYTHON_SHA256", "PYTHONHASHSEED"}
            for e in cfg["Env"] or []
        )
        assert cfg["Labels"][LABEL] == "1" and float(cfg["Labels"][LABEL_DEADLINE]) > time.time()
        assert check_host_config(info, sb.limits) == []
    finally:
        docker_client.api.remove_container(cid, force=True)


def test_real_command_caps_the_address_space(
    make_sandbox: Callable[..., Any], docker_client: Any
) -> None:
    from rara.runner.container.runner import sandbox_command

    sb = make_sandbox(memory_bytes=300 * MiB)
    cid = sb.create_container()
    try:
        entry = docker_client.api.inspect_container(cid)["Config"]["Entrypoint"]
        assert entry == sandbox_command(sb.limits) and entry[5] == str(300 * MiB)
    finally:
        docker_client.api.remove_container(cid, force=True)


def test_check_host_config_names_what_is_missing() -> None:
    from rara.runner.container.runner import SANDBOX_USER, ContainerLimits

    lim = ContainerLimits()
    good = {
        "HostConfig": {
            "NetworkMode": "none",
            "ReadonlyRootfs": True,
            "Tmpfs": {"/tmp": f"size={lim.tmpfs_bytes},noexec"},
            "CapDrop": ["ALL"],
            "SecurityOpt": ["no-new-privileges"],
            "Privileged": False,
            "Memory": lim.memory_bytes,
            "MemorySwap": lim.memory_bytes,
            "NanoCpus": int(lim.cpus * 1e9),
            "PidsLimit": lim.pids,
        },
        "Config": {"User": SANDBOX_USER},
    }
    assert check_host_config(good, lim) == []
    bad = json.loads(json.dumps(good))
    bad["HostConfig"].update(MemorySwap=-1, NetworkMode="bridge", PidsLimit=None)
    bad["Config"]["User"] = ""
    assert check_host_config(bad, lim) == [
        "network none",
        "memory+swap limit",
        "pids limit",
        "user 65534:65534",
    ]


# -- from inside ----------------------------------------------------------------------------------


def test_inside_the_container(make_sandbox: Callable[..., Any]) -> None:
    r = act(make_sandbox(standin=True), {"do": "inspect"}, b"x" * 1000)
    assert r.ok, r.error
    seen = json.loads(r.output)
    assert (seen["uid"], seen["gid"], seen["euid"]) == (65534, 65534, 65534)
    assert seen["groups"] in ([], [65534])
    assert int(seen["cap_eff"], 16) == 0 and int(seen["cap_bnd"], 16) == 0
    assert seen["no_new_privs"] == "1"
    assert seen["seccomp"] == "2"  # the engine's default seccomp filter is on
    assert seen["interfaces"] == ["lo"] and seen["routes"] == []
    mounts = {m[1]: m for m in seen["mounts"]}
    assert mounts["/"][3].split(",")[0] == "ro"
    assert mounts["/tmp"][0] == "tmpfs"
    assert {"noexec", "nosuid"} <= set(mounts["/tmp"][3].split(","))
    assert seen["stdin_bytes"] == 1000


ESCAPES = [
    # (action, error code, text the host's message must contain)
    ({"do": "socket"}, "crashed", "Network is unreachable"),
    ({"do": "write", "path": "/var/tmp/x"}, "crashed", "Read-only file system"),  # 1777 dir
    ({"do": "write", "path": "/escape"}, "crashed", "Read-only file system"),
    ({"do": "read", "path": "/etc/shadow"}, "crashed", "Permission denied"),
    ({"do": "exec_tmp"}, "crashed", "Permission denied"),  # /tmp is noexec
    ({"do": "write", "path": "/tmp/fill", "bytes": 32 * MiB}, "crashed", "No space left"),
    ({"do": "fork", "n": 1000}, "crashed", "Resource temporarily unavailable"),  # pids limit
    ({"do": "alloc", "bytes": 2 << 30}, "memory_limit", "memory limit"),
]


@pytest.mark.parametrize(
    ("action", "code", "text"),
    ESCAPES,
    ids=[a["do"] + ":" + a.get("path", "") for a, _, _ in ESCAPES],
)
def test_escape_attempts_are_contained(
    make_sandbox: Callable[..., Any], action: dict[str, Any], code: str, text: str
) -> None:
    sb = make_sandbox(standin=True, memory_bytes=256 * MiB, pids=64, tmpfs_bytes=16 * MiB)
    r = act(sb, action)
    assert r.error is not None, r.output
    assert r.error.code == code
    assert text in r.error.message
    assert r.output == b""
    if code == "memory_limit":
        assert r.exit_code == 137  # SIGKILL from the OOM killer


# -- deadline, caps, streams -------------------------------------------------------------------


def test_deadline_kills_and_removes_the_container(
    make_sandbox: Callable[..., Any],
    docker_client: Any,
    session_containers: Callable[[], list[Any]],
) -> None:
    import docker

    sb = make_sandbox(standin=True, wall_s=2.0)
    t0 = time.monotonic()
    r = act(sb, {"do": "sleep", "seconds": 3600})
    took = time.monotonic() - t0
    assert r.error is not None and r.error.code == "timeout"
    assert r.exit_code is None
    assert 2.0 <= took < patience(10.0)  # killed at the deadline, not at the end of the sleep
    assert session_containers() == []
    with pytest.raises(docker.errors.NotFound):
        docker_client.api.inspect_container(r.container_id)


def test_output_cap_is_enforced(
    make_sandbox: Callable[..., Any], session_containers: Callable[[], list[Any]]
) -> None:
    r = act(make_sandbox(standin=True, max_output=1 * MiB), {"do": "flood", "bytes": 16 * MiB})
    assert r.error is not None and r.error.code == "output_too_large"
    assert len(r.output) <= 1 * MiB
    assert session_containers() == []


def test_stderr_is_truncated_not_fatal(make_sandbox: Callable[..., Any]) -> None:
    r = act(make_sandbox(standin=True, stderr_tail=4096), {"do": "stderr_flood", "bytes": 4 * MiB})
    assert r.ok and json.loads(r.output) == {"done": True}
    assert len(r.stderr) == 4096 and r.stderr_truncated


def test_large_request_while_child_writes_first(make_sandbox: Callable[..., Any]) -> None:
    """Both directions at once: a child that fills its stdout before reading stdin."""
    r = act(
        make_sandbox(standin=True, max_output=16 * MiB, wall_s=60),
        {"do": "write_first", "bytes": 4 * MiB},
        b"z" * (8 * MiB),
    )
    assert r.ok, r.error
    assert r.output[: 4 * MiB] == b"w" * (4 * MiB)
    assert r.output[4 * MiB :] == b"|%d" % (8 * MiB)


def test_echo_round_trip_is_byte_exact(make_sandbox: Callable[..., Any]) -> None:
    payload = np.random.default_rng(7).bytes(3 * MiB + 17)
    r = act(make_sandbox(standin=True), {"do": "echo"}, payload)
    assert r.ok and r.output == payload
    assert set(r.timings_ms) >= {"create", "start", "io", "remove", "total"}


def test_nonzero_exit_and_silent_exit(make_sandbox: Callable[..., Any]) -> None:
    sb = make_sandbox(standin=True)
    r = act(sb, {"do": "exit", "code": 3, "stderr": "first\nSomethingError: the reason\n"})
    assert r.error is not None and r.error.code == "crashed" and r.exit_code == 3
    assert r.error.message == "exited 3: SomethingError: the reason"
    r = act(sb, {"do": "exit", "code": 0})
    assert r.error is not None and r.error.code == "protocol_error"


def test_protections_are_reported(make_sandbox: Callable[..., Any], docker_client: Any) -> None:
    from rara.runner.container.runner import LABEL_SOURCE_HASH, sandbox_source_hash

    sb = make_sandbox()
    layers = {layer.name: layer for layer in sb.protections()}
    for name in (
        "docker_network_none",
        "docker_read_only_root",
        "docker_cap_drop_all",
        "docker_no_new_privileges",
        "docker_user",
        "docker_memory",
        "docker_no_swap",
        "docker_cpu",
        "docker_pids",
        "docker_seccomp",
        "docker_deadline",
        "docker_address_space",
    ):
        assert layers[name].available, layers[name]
    # current exactly when the image's label matches the source as it is now
    label = docker_client.images.get(sb.image).labels.get(LABEL_SOURCE_HASH)
    assert layers["docker_image_current"].available is (label == sandbox_source_hash())


def test_concurrent_runs_do_not_mix(make_sandbox: Callable[..., Any]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    sb = make_sandbox(standin=True)
    payloads = [bytes([i]) * (100_000 + i) for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda p: act(sb, {"do": "echo"}, p), payloads))
    assert [r.output for r in results] == payloads


# -- the real rara_sandbox protocol ----------------------------------------------------------------


def _candles(n: int = 400) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    return {
        "timestamps": 1_704_067_200_000 + np.arange(n, dtype=np.int64) * 3_600_000,
        "open": open_,
        "high": np.maximum(open_, close) * 1.002,
        "low": np.minimum(open_, close) * 0.998,
        "close": close,
        "volume": rng.lognormal(1, 1, n),
    }


def test_real_protocol_round_trip_matches_in_process(make_sandbox: Callable[..., Any]) -> None:
    from rara_sandbox.evaluate import evaluate

    source = TEMPLATE.read_text()
    candles = _candles()
    got, run = make_sandbox().evaluate(source, candles, {"fast": 8}, windows=(200, 300))
    assert run.ok, run.error
    assert got is not None and got.ok, got and got.error
    want = evaluate(source, candles, {"fast": 8}, (200, 300))
    assert want.ok
    assert got.meta == want.meta and got.params == want.params
    assert [w.n for w in got.windows] == [w.n for w in want.windows] == [200, 300, 400]
    for a, b in zip(got.windows, want.windows, strict=True):
        np.testing.assert_array_equal(a.entries, b.entries)
        np.testing.assert_array_equal(a.exits, b.exits)
        np.testing.assert_array_equal(a.stop_loss, b.stop_loss)
    assert got.runtime["python"].startswith("3.")


def test_real_protocol_strategy_errors_come_back_coded(make_sandbox: Callable[..., Any]) -> None:
    bad = "import os\n\ndef meta():\n    return {}\n"
    got, run = make_sandbox().evaluate(bad, _candles(100))
    assert run.ok and got is not None and not got.ok
    assert got.error is not None and got.error.code == "lint_failed"


def test_real_protocol_malformed_request(make_sandbox: Callable[..., Any]) -> None:
    from rara_sandbox.protocol import decode_response

    run = make_sandbox().run(b"RSBX" + b"\xff" * 12)
    assert run.exit_code == 2 and run.error is not None and run.error.code == "crashed"
    answer = decode_response(run.output)
    assert answer.error is not None and answer.error.code == "bad_request"


def test_real_command_keeps_a_fixed_hash_seed() -> None:
    """Not -I (it would drop PYTHONHASHSEED): set order must match in every container."""
    from rara.runner.container.runner import SANDBOX_ENV, ContainerLimits, sandbox_command

    assert sandbox_command(ContainerLimits())[:3] == ["python3", "-s", "-P"]
    assert SANDBOX_ENV == {"PYTHONHASHSEED": "0"}
