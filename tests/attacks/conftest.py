"""Fixtures for the attack suite: canaries, candles, the reference result, one sandbox per backend.

Sandboxes are session-scoped: the subprocess backend keeps its zygote warm across all payloads
(every evaluation is still a fresh jailed child), and the docker backend starts one container per
evaluation anyway. A second "twin" subprocess sandbox (its own zygote, hence its own hash seed and
address layout) is what the determinism checks compare against.

Docker follows tests/docker/conftest.py: without an engine or a current image the docker half
skips with the reason; with RARA_REQUIRE_DOCKER=1 it fails instead, so CI cannot pass by silently
skipping the container backend.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import pytest

from tests.attacks.catalogue import N_BARS, REFERENCE, TALLY, Canaries, signals

# Read at import time: the root conftest's autouse fixture strips RARA_* from every test's env.
REQUIRE_DOCKER = os.environ.get("RARA_REQUIRE_DOCKER") == "1"
WALL_S = 3.0  # small on purpose: CPU payloads cost one deadline each
MEMORY_MB = 256
LATEST, TEST_TAG = "rara-sandbox:latest", "rara-sandbox:test"
BASES = ("rara-sandbox-base:bookworm", "python:3.11-slim")  # as tests/docker/conftest.py


def need(reason: str) -> NoReturn:
    if REQUIRE_DOCKER:
        pytest.fail(f"RARA_REQUIRE_DOCKER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _docker_image() -> str:
    """A sandbox image holding this checkout's rara_sandbox (same rules as tests/docker): the
    latest tag when current, else rara-sandbox:test, built now from a base already present."""
    from rara.runner.capabilities import docker_engine

    engine = docker_engine()
    if not engine.available:
        need(f"no Docker engine: {engine.detail} (scripts/ci-docker.sh starts one)")
    try:
        import docker
    except ImportError:
        need("the docker SDK is not installed (pip install 'docker>=7.0')")
    from rara.errors import RaraError
    from rara.runner.docker_backend import LABEL_SOURCE_HASH, sandbox_source_hash
    from rara.runner.image import build_image

    client = docker.from_env(timeout=120)
    try:
        want = sandbox_source_hash()
        for tag in (LATEST, TEST_TAG):
            try:
                labels = client.images.get(tag).labels or {}
            except docker.errors.ImageNotFound:
                continue
            if labels.get(LABEL_SOURCE_HASH) == want:
                return tag
        for base in BASES:
            try:
                client.images.get(base)
            except docker.errors.ImageNotFound:
                continue
            try:
                build_image(base, TEST_TAG, client=client, pull=False)
            except RaraError as exc:
                need(f"could not build {TEST_TAG} from {base}: {exc.code}: {exc.message}")
            return TEST_TAG
        need(f"no current {LATEST} and no base image ({', '.join(BASES)}); run "
             "scripts/ci-docker.sh")  # fmt: skip
    finally:
        client.close()


@pytest.fixture(scope="session")
def canaries() -> Iterator[Canaries]:
    c = Canaries.create()
    yield c
    c.close()


@pytest.fixture(scope="session")
def candles() -> Any:
    from rara.data.catalog import default_catalog
    from rara.domain.market import Instrument, Timeframe

    inst = Instrument(exchange="binance", symbol="BTC/USDT", timeframe=Timeframe.parse("1h"))
    return default_catalog().load(inst).slice(0, N_BARS)


@pytest.fixture(scope="session")
def reference(candles: Any) -> tuple[str, list[Any]]:
    """sma_crossover's source and its signals computed in this process: trusted code only."""
    from rara.runner.sandbox import open_sandbox

    source = REFERENCE.read_text()
    result = open_sandbox("inprocess").evaluate(source, candles)
    assert result.ok, result.error
    return source, signals(result)


@pytest.fixture(scope="session")
def sandboxes() -> Iterator[Callable[[str, bool], Any]]:
    """get(backend, twin) -> an open sandbox, created on first use and closed at session end."""
    from rara.runner.sandbox import open_sandbox

    opened: dict[tuple[str, bool], Any] = {}
    images: dict[str, str] = {}
    unavailable: list[str] = []  # why docker is missing, found once: 230 tests need not re-probe

    def get(backend: str, twin: bool = False) -> Any:
        if backend == "inprocess":  # no boundary at all: attacks never run there
            raise AssertionError("attack payloads must never run in the inprocess backend")
        if backend == "docker" and twin:
            twin = False  # every docker evaluation is a fresh container (and interpreter)
        key = (backend, twin)
        if key not in opened:
            if backend == "docker":
                if unavailable:
                    need(unavailable[0])
                if "image" not in images:
                    try:
                        images["image"] = _docker_image()
                    except (pytest.skip.Exception, pytest.fail.Exception) as exc:
                        unavailable.append(str(exc.msg).removeprefix("RARA_REQUIRE_DOCKER=1 but "))
                        raise
                from rara.runner.sandbox import ContainerSandbox

                opened[key] = ContainerSandbox(WALL_S, MEMORY_MB, image=images["image"])
            else:
                opened[key] = open_sandbox(backend, WALL_S, MEMORY_MB)
        return opened[key]

    yield get
    for sb in opened.values():
        sb.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TALLY.backends():
        return
    terminalreporter.section("sandbox attack suite: where each payload was contained")
    for line in TALLY.lines():
        terminalreporter.write_line(line)
