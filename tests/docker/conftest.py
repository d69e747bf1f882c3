"""Fixtures for tests that need a Docker engine and the sandbox image.

Without an engine these tests skip, with the reason in pytest's summary (-ra). With
RARA_REQUIRE_DOCKER=1 (CI sets it after scripts/ci-docker.sh) they fail instead, so a CI run can
never pass by silently skipping the container sandbox.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.kit.docker import current_sandbox_image, need
from tests.kit.docker import docker_client as connect_docker

STANDIN = (Path(__file__).parent / "standin.py").read_text()
SESSION = uuid.uuid4().hex[:12]  # every container these tests create carries this label
SESSION_LABEL = "rara.test.session"


@pytest.fixture(scope="session")
def require() -> Callable[[str], NoReturn]:
    """`need` for tests: skip locally, fail under RARA_REQUIRE_DOCKER=1."""
    return need


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    client = connect_docker()
    yield client
    client.close()


@pytest.fixture(scope="session")
def sandbox_image(docker_client: Any) -> str:
    return current_sandbox_image(docker_client)


@pytest.fixture
def make_sandbox(docker_client: Any, sandbox_image: str) -> Iterator[Callable[..., Any]]:
    """ContainerRunner factory (labelled with this session); after the test, asserts that no
    container of this session is left, whatever the test did."""
    from rara.runner.container.runner import ContainerRunner

    def make(
        *, standin: bool = False, labels: dict[str, str] | None = None, **limits: Any
    ) -> ContainerRunner:
        """`labels` add to (or override) what every container is labelled with."""
        from rara.runner.container.runner import ContainerLimits

        command = ["python3", "-I", "-c", STANDIN] if standin else None
        return ContainerRunner(
            sandbox_image,
            ContainerLimits(**limits),
            command=command,
            client=docker_client,
            extra_labels={**(labels or {}), SESSION_LABEL: SESSION},
        )

    yield make
    left = leftovers(docker_client)
    for c in left:
        c.remove(force=True)
    assert not left, f"containers left behind: {[c.name for c in left]}"


def leftovers(client: Any) -> list[Any]:
    return list(client.containers.list(all=True, filters={"label": f"{SESSION_LABEL}={SESSION}"}))


@pytest.fixture(scope="session")
def session_label() -> dict[str, str]:
    """The label every container of this test session carries (the fixtures clean up by it)."""
    return {SESSION_LABEL: SESSION}


@pytest.fixture
def session_containers(docker_client: Any) -> Callable[[], list[Any]]:
    """Containers of this test session still in the engine (running or not)."""
    return lambda: leftovers(docker_client)
