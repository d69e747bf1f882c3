"""Fixtures for tests that need a Docker engine and the sandbox image.

Without an engine these tests skip, with the reason in pytest's summary (-ra). With
RARA_REQUIRE_DOCKER=1 (CI sets it after scripts/ci-docker.sh) they fail instead, so a CI run can
never pass by silently skipping the container sandbox.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from rara.runner.capabilities import docker_engine

# Read at import time: the root conftest's autouse fixture strips RARA_* from every test's env.
REQUIRE = os.environ.get("RARA_REQUIRE_DOCKER") == "1"
STANDIN = (Path(__file__).parent / "standin.py").read_text()
LATEST = "rara-sandbox:latest"
TEST_TAG = "rara-sandbox:test"
# Bases a fresh test image may be built from, offline: only ones already in the engine are used.
BASES = ("rara-sandbox-base:bookworm", "python:3.11-slim")
SESSION = uuid.uuid4().hex[:12]  # every container these tests create carries this label
SESSION_LABEL = "rara.test.session"


def need(reason: str) -> NoReturn:
    if REQUIRE:
        pytest.fail(f"RARA_REQUIRE_DOCKER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def require() -> Callable[[str], NoReturn]:
    """`need` for tests: skip locally, fail under RARA_REQUIRE_DOCKER=1."""
    return need


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    engine = docker_engine()
    if not engine.available:
        need(f"no Docker engine: {engine.detail} (scripts/ci-docker.sh starts one)")
    try:
        import docker
    except ImportError:
        need("the docker SDK is not installed (pip install 'docker>=7.0')")
    client = docker.from_env(timeout=120)
    yield client
    client.close()


@pytest.fixture(scope="session")
def sandbox_image(docker_client: Any) -> str:
    """A sandbox image holding this checkout's rara_sandbox: rara-sandbox:latest when it is
    current, else rara-sandbox:test built now from a base already in the engine."""
    import docker

    from rara.errors import RaraError
    from rara.runner.docker_backend import LABEL_SOURCE_HASH, sandbox_source_hash
    from rara.runner.image import build_image

    want = sandbox_source_hash()
    for tag in (LATEST, TEST_TAG):
        try:
            labels = docker_client.images.get(tag).labels or {}
        except docker.errors.ImageNotFound:
            continue
        if labels.get(LABEL_SOURCE_HASH) == want:
            return tag
    for base in BASES:
        try:
            docker_client.images.get(base)
        except docker.errors.ImageNotFound:
            continue
        try:
            build_image(base, TEST_TAG, client=docker_client, pull=False)
        except RaraError as exc:
            need(f"could not build {TEST_TAG} from {base}: {exc.code}: {exc.message}")
        return TEST_TAG
    need(f"no current {LATEST} and no base image ({', '.join(BASES)}); run scripts/ci-docker.sh")


@pytest.fixture
def make_sandbox(docker_client: Any, sandbox_image: str) -> Iterator[Callable[..., Any]]:
    """DockerSandbox factory (labelled with this session); after the test, asserts that no
    container of this session is left, whatever the test did."""
    from rara.runner.docker_backend import DockerSandbox

    def make(*, standin: bool = False, **limits: Any) -> DockerSandbox:
        from rara.runner.docker_backend import ContainerLimits

        command = ["python3", "-I", "-c", STANDIN] if standin else None
        return DockerSandbox(
            sandbox_image,
            ContainerLimits(**limits),
            command=command,
            client=docker_client,
            extra_labels={SESSION_LABEL: SESSION},
        )

    yield make
    left = leftovers(docker_client)
    for c in left:
        c.remove(force=True)
    assert not left, f"containers left behind: {[c.name for c in left]}"


def leftovers(client: Any) -> list[Any]:
    return list(client.containers.list(all=True, filters={"label": f"{SESSION_LABEL}={SESSION}"}))


@pytest.fixture
def session_containers(docker_client: Any) -> Callable[[], list[Any]]:
    """Containers of this test session still in the engine (running or not)."""
    return lambda: leftovers(docker_client)
