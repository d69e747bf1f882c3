"""Fixtures for the attack suite: canaries, candles, the reference result, one sandbox per backend.

Sandboxes are session-scoped: the subprocess backend keeps its zygote warm across all payloads
(every evaluation is still a fresh jailed child), and the docker backend starts one container per
evaluation anyway. A second "twin" subprocess sandbox (its own zygote, hence its own hash seed and
address layout) is what the determinism checks compare against.

Docker follows tests/kit/docker.py: without an engine or a current image the docker half
skips with the reason; with RARA_REQUIRE_DOCKER=1 it fails instead, so CI cannot pass by silently
skipping the container backend.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.attacks.catalogue import N_BARS, REFERENCE, TALLY, Canaries, signals
from tests.kit.candles import shipped_catalog
from tests.kit.docker import current_sandbox_image, docker_client, need
from tests.kit.patience import patience

# Each CPU payload costs one deadline (about ten per backend), but payloads that must finish
# (deep_list_dealloc) or must reach the memory limit first (small_object_growth) took more than
# 3 s of wall time on a loaded 2-core CI box and were killed by the deadline instead. The deadline
# is a quiet second's patience: 10 s holds with two CPU burners beside the suite, and
# RARA_TEST_SLOWDOWN stretches it on slower machines still.
WALL_S = patience(1.0)
MEMORY_MB = 256


def _docker_image() -> str:
    """A sandbox image holding this checkout's rara_sandbox (the same rules as tests/docker)."""
    client = docker_client()
    try:
        return current_sandbox_image(client)
    finally:
        client.close()


@pytest.fixture(scope="session")
def canaries() -> Iterator[Canaries]:
    c = Canaries.create()
    yield c
    c.close()


@pytest.fixture(scope="session")
def candles() -> Any:
    from rara.domain.market import Instrument, Timeframe

    inst = Instrument(exchange="binance", symbol="BTC/USDT", timeframe=Timeframe.parse("1h"))
    return shipped_catalog().load(inst).slice(0, N_BARS)


@pytest.fixture(scope="session")
def reference(candles: Any) -> tuple[str, list[Any]]:
    """sma_crossover's source and its signals computed in this process: trusted code only."""
    from rara.runner.sandbox import EvaluationRequest, open_sandbox

    source = REFERENCE.read_text()
    with open_sandbox("inprocess") as sandbox:
        result = sandbox.evaluate(EvaluationRequest(source=source, candles=candles))
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
