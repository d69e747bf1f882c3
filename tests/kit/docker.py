"""What every test that needs a Docker engine shares (tests/docker and tests/attacks).

Without an engine these tests skip, with the reason in pytest's summary (-ra). With
RARA_REQUIRE_DOCKER=1 (CI sets it after scripts/ci-docker.sh) they fail instead, so a CI run can
never pass by silently skipping the container sandbox.
"""

from __future__ import annotations

import os
from typing import Any, NoReturn

import pytest

# Read at import time: the root conftest's autouse fixture strips RARA_* from every test's env.
REQUIRE = os.environ.get("RARA_REQUIRE_DOCKER") == "1"
LATEST = "rara-sandbox:latest"
TEST_TAG = "rara-sandbox:test"
# Bases a fresh test image may be built from, offline: only ones already in the engine are used.
BASES = ("rara-sandbox-base:bookworm", "python:3.11-slim")


def need(reason: str) -> NoReturn:
    if REQUIRE:
        pytest.fail(f"RARA_REQUIRE_DOCKER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def docker_client() -> Any:
    """A docker SDK client, or skip/fail saying what is missing."""
    from rara.runner.capabilities import docker_engine

    engine = docker_engine()
    if not engine.available:
        need(f"no Docker engine: {engine.detail} (scripts/ci-docker.sh starts one)")
    try:
        import docker
    except ImportError:
        need("the docker SDK is not installed (pip install 'docker>=7.0')")
    return docker.from_env(timeout=120)


def current_sandbox_image(client: Any) -> str:
    """An image holding this checkout's rara_sandbox: the latest tag when it is current, else
    rara-sandbox:test-<source hash> built now from a base already in the engine (one tag per
    source: checkouts sharing an engine never retag each other's image mid-run)."""
    import docker

    from rara.errors import RaraError
    from rara.runner.container.image import build_image
    from rara.runner.container.runner import LABEL_SOURCE_HASH, sandbox_source_hash

    want = sandbox_source_hash()
    own = f"{TEST_TAG}-{want[:12]}"
    for tag in (LATEST, TEST_TAG, own):
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
            build_image(base, own, client=client, pull=False)
        except RaraError as exc:
            need(f"could not build {own} from {base}: {exc.code}: {exc.message}")
        return own
    need(f"no current {LATEST} and no base image ({', '.join(BASES)}); run scripts/ci-docker.sh")
