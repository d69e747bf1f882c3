"""The causality proof request on every backend: the same kept last bars from the in-process
runtime, the jail and the container, and its own deadline (not the evaluation's) everywhere."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from rara.domain.market import Candles
from rara.runner.sandbox import (
    ContainerSandbox,
    EvaluationRequest,
    InProcessSandbox,
    JailSandbox,
    ProofRequest,
    proof_deadline_s,
)
from rara_sandbox.results import EvaluationResult, LastBars
from tests.kit.candles import shipped_btc
from tests.kit.paths import TEMPLATE


@pytest.fixture(scope="module")
def candles() -> Candles:
    return shipped_btc("1h").slice(0, 3000)


def proof_request(candles: Candles, source: str | None = None) -> EvaluationRequest:
    return EvaluationRequest(
        source=source or TEMPLATE.read_text(),
        candles=candles,
        proof=ProofRequest(from_bar=2400, trailing_window=541),
    )


def same_last_bars(a: LastBars, b: LastBars) -> None:
    for series in LastBars.SERIES:
        np.testing.assert_array_equal(getattr(a, series), getattr(b, series))


def same_proof(a: EvaluationResult, b: EvaluationResult) -> None:
    assert a.ok and b.ok and a.proof is not None and b.proof is not None, (a.error, b.error)
    assert (a.proof.from_bar, a.proof.bars) == (b.proof.from_bar, b.proof.bars) == (2400, 600)
    same_last_bars(a.proof.prefix, b.proof.prefix)
    same_last_bars(a.proof.trailing, b.proof.trailing)
    np.testing.assert_array_equal(a.windows[-1].entries, b.windows[-1].entries)


def test_the_deadline_scales_with_the_work() -> None:
    short = proof_deadline_s(1000, 600, 10.0, 20.0)
    assert short == pytest.approx(10.0 + 20e-6 * 400 * 1601)
    assert proof_deadline_s(20000, 12000, 10.0, 20.0) > 100 * (short - 10.0)
    assert proof_deadline_s(1000, 1000, 10.0, 20.0) == 10.0


def test_jail_gives_the_in_process_proof_past_the_evaluation_deadline(candles: Candles) -> None:
    reference = InProcessSandbox().evaluate(proof_request(candles))
    # 600 bars of prefixes and trailing windows take longer than this jail's evaluations may
    assert reference.timings_ms["proof"] > 500.0
    with JailSandbox(wall_s=0.5) as jail:
        same_proof(jail.evaluate(proof_request(candles)), reference)


def test_a_proof_past_its_own_deadline_says_so(candles: Candles) -> None:
    slow = InProcessSandbox(wall_s=0.01, proof_us_per_bar=0.001)
    result = slow.evaluate(proof_request(candles))
    assert result.error is not None and result.error.code == "timeout"
    assert "causality proof past its deadline" in result.error.message


@pytest.fixture(scope="module")
def container() -> Iterator[Any]:
    from tests.kit.docker import current_sandbox_image, docker_client

    client = docker_client()
    image = current_sandbox_image(client)
    with ContainerSandbox(wall_s=0.5, memory_mb=512, image=image) as sb:
        yield sb
    client.close()


def test_container_gives_the_in_process_proof(container: Any, candles: Candles) -> None:
    reference = InProcessSandbox().evaluate(proof_request(candles))
    same_proof(container.evaluate(proof_request(candles)), reference)
