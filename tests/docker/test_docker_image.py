"""Building the sandbox image: `rara sandbox build-image` and the offline install paths."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from rara.runner.container.image import BaseInfo, manylinux_platforms
from tests.kit.paths import REPO


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`rara sandbox ...` in a fresh interpreter, the way a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "rara", "sandbox", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=900,
    )


# -- no engine needed ------------------------------------------------------------------------------


def test_manylinux_platforms_cover_older_glibc() -> None:
    tags = manylinux_platforms("2.36", "x86_64")
    assert tags[0] == "manylinux_2_36_x86_64"
    assert "manylinux_2_17_x86_64" in tags and tags[-1] == "manylinux2014_x86_64"
    assert "manylinux_2_16_x86_64" not in tags


@pytest.mark.parametrize(
    ("numpy", "usable"),
    [(None, False), ("1.21.5", False), ("1.24.2", True), ("2.1.0", True), ("2.0.0rc1", True)],
)
def test_base_numpy_usable(numpy: str | None, usable: bool) -> None:
    assert BaseInfo("3.11", "x86_64", "2.36", numpy, False).numpy_usable() is usable


def test_build_image_without_engine_is_a_clear_error(tmp_path: Path) -> None:
    p = run_cli("build-image", env={"DOCKER_HOST": f"unix://{tmp_path}/no.sock"})
    assert p.returncode == 1, p.stderr
    err = json.loads(p.stdout)["error"]
    assert err["code"] == "docker_unavailable" and "dockerd" in err["suggestion"]


def test_demux_splits_streams_and_caps() -> None:
    from rara.runner.container.io import _Demux

    def frame(stream: int, data: bytes) -> bytes:
        return bytes([stream, 0, 0, 0]) + len(data).to_bytes(4, "big") + data

    d = _Demux(stdout_cap=5, stderr_cap=3)
    blob = frame(1, b"abc") + frame(2, b"errors") + frame(1, b"defg")
    for i in range(len(blob)):  # byte by byte: frames split anywhere must reassemble
        d.feed(blob[i : i + 1])
    assert bytes(d.stdout) == b"abcde" and d.stdout_over
    assert bytes(d.stderr) == b"err" and d.stderr_truncated


# -- with an engine -------------------------------------------------------------------------------


@pytest.mark.slow
def test_cli_build_image_reports_json(docker_client: Any, sandbox_image: str) -> None:
    base = docker_client.images.get(sandbox_image).labels["rara.sandbox.base"]
    p = run_cli("build-image", "--base-image", base, "--tag", "rara-sandbox:test", "--no-pull")
    assert p.returncode == 0, p.stdout + p.stderr
    out = json.loads(p.stdout)
    assert out["image"] == "rara-sandbox:test" and out["base_image"] == base
    assert any(w.lower().startswith("restrictedpython-") for w in out["wheels"])
    assert out["runtime"]["restrictedpython"].startswith(("9.", "1"))
    from rara.runner.container.runner import sandbox_source_hash

    assert out["source_sha256"] == sandbox_source_hash()
    labels = docker_client.images.get("rara-sandbox:test").labels
    assert labels["rara.sandbox.source_sha256"] == out["source_sha256"]


@pytest.mark.slow
def test_cli_build_image_missing_base(docker_client: Any) -> None:
    p = run_cli("build-image", "--base-image", "rara-no-such-base:0", "--no-pull")
    assert p.returncode == 2
    assert json.loads(p.stdout)["error"]["code"] == "base_image_missing"


@pytest.mark.slow
def test_base_with_pip_and_without_numpy(
    docker_client: Any, sandbox_image: str, tmp_path: Path, require: Any
) -> None:
    """The other install path (a python slim image's): pip present, numpy from a wheel. Made
    offline from the Debian base by deleting numpy and unpacking pip's wheel into it."""
    import docker

    from rara.runner.container.image import build_image
    from rara.runner.container.runner import ContainerRunner

    base = "rara-sandbox-base:bookworm"
    try:
        docker_client.images.get(base)
    except docker.errors.ImageNotFound:
        require(f"{base} is not in the engine (scripts/ci-docker.sh makes it)")
    wheels = tmp_path / "w"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            "3.11",
            "-d",
            str(wheels),
            "pip",
        ],
        check=True,
        capture_output=True,
    )
    pip_wheel = next(wheels.glob("pip-*.whl"))
    dockerfile = (
        f"FROM {base}\n"
        f"COPY {pip_wheel.name} /tmp/\n"
        "RUN rm -rf /usr/lib/python3/dist-packages/numpy* && python3 -m zipfile -e "
        f"/tmp/{pip_wheel.name} /usr/local/lib/python3.11/dist-packages && rm /tmp/*.whl\n"
    )
    ctx = io.BytesIO()
    with tarfile.open(fileobj=ctx, mode="w") as tar:
        for name, data in (
            ("Dockerfile", dockerfile.encode()),
            (pip_wheel.name, pip_wheel.read_bytes()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    ctx.seek(0)
    try:
        docker_client.images.build(
            fileobj=ctx,
            custom_context=True,
            tag="rara-sandbox-base:pip-test",
            network_mode="none",
            rm=True,
        )
        report = build_image(
            "rara-sandbox-base:pip-test", "rara-sandbox:pip-test", client=docker_client, pull=False
        )
        assert report["base"]["pip"] is True and report["base"]["numpy"] is None
        assert any(w.startswith("numpy-") for w in report["wheels"])
        assert report["runtime"]["numpy"] != "1.24.2"  # the wheel's, not Debian's
        echo = ContainerRunner(
            "rara-sandbox:pip-test",
            command=["python3", "-I", "-c", "import numpy, sys; print(numpy.__file__)"],
            client=docker_client,
        )
        r = echo.run(b"")
        assert r.ok and b"/usr/local/lib/python3.11/dist-packages/numpy" in r.output
    finally:  # a few hundred MB each; nothing else uses them
        for tag in ("rara-sandbox:pip-test", "rara-sandbox-base:pip-test"):
            with contextlib.suppress(docker.errors.DockerException):
                docker_client.images.remove(tag, force=True)
