"""The determinism check on a real difference between two jailed processes (issue 9, item 8).

Every route from strategy code to a heap address is closed (tests/sandbox/test_sandbox_addresses),
so the difference is made by a jailed entry with one route left open (`address_route`): the
same source, candles and params in two children of one zygote give different signals only
because each child draws its own heap layout. The gate must then reject it as non-deterministic.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from rara.config import BacktestSettings
from rara.domain.market import Candles, Instrument, Timeframe
from rara.runner.jail.runner import JailedRunner, Limits
from rara.runner.sandbox import WARM_MODULES, JailSandbox
from rara.services.backtest import CandidateProver, evaluate_candidate, judge_candidate
from rara.validation.causality import causality_checks
from rara.validation.gate import ResearchGate
from rara.validation.trials import TrialStore
from tests.kit.candles import shipped_btc
from tests.kit.gates import opened_gate
from tests.kit.paths import EXAMPLES
from tests.runner.conftest import HERE

ROUTE = "address_route"
SOURCE = (EXAMPLES / "sma_crossover" / "strategy.py").read_text()


@pytest.fixture(scope="module")
def candles() -> Candles:
    return shipped_btc("1h").slice(0, 1500)


@pytest.fixture(scope="module")
def leaky() -> Iterator[JailSandbox]:
    with JailSandbox(
        wall_s=30.0,
        entry=f"{ROUTE}:handle_request",
        warm=(*WARM_MODULES, ROUTE),
        sys_path=[*sys.path, str(HERE)],
    ) as sb:
        yield sb


def test_two_jailed_children_have_different_heap_layouts() -> None:
    with JailedRunner(warm=(ROUTE,), sys_path=[*sys.path, str(HERE)]) as runner:
        limits = Limits(wall_s=30.0)
        fixed = {runner.run(f"{ROUTE}:heap_address", b"", limits).response for _ in range(3)}
        drawn = [
            runner.run(f"{ROUTE}:heap_address", b"randomise", limits).response for _ in range(6)
        ]
    assert len(fixed) == 1  # forks of one zygote: the same address every time
    # each child draws its layout: two share one with probability 1/256 per size class, so
    # among six a repeat is possible, six identical is not
    assert len(set(drawn)) > 1


def test_signals_that_differ_between_processes_fail_determinism(leaky, candles) -> None:
    first = evaluate_candidate(leaky, SOURCE, candles, seed=3)
    assert not first.failed, first.sandbox_error()
    proof = CandidateProver(leaky, first, candles)(900, 52)
    assert proof.complete and proof.determinism is not None
    assert proof.determinism.series == "entries"
    check = {c.name: c for c in causality_checks(proof)}["determinism"]
    assert not check.passed and "a second process" in check.detail


def test_the_gate_rejects_it_as_non_deterministic(leaky, candles, tmp_path) -> None:
    # thresholds loosened so that only the causality proof can decide
    loose = opened_gate()  # 12 trades: one flipped entry must not decide it
    with TrialStore(tmp_path / "t.db") as trials:
        gate = ResearchGate(trials, loose, BacktestSettings(fee=0.0, slippage=0.0))
        inst = Instrument(exchange="binance", symbol="BTC/USDT", timeframe=Timeframe.parse("1h"))
        report = judge_candidate(
            leaky, gate, name="sma", source=SOURCE, candles=candles, inst=inst, seed=3
        )
    assert not report.passed
    # the flipped bar is drawn from an address: before the holdout it fails `determinism`; at a
    # holdout bar the same finding is judged with the holdout (`lookahead.holdout`)
    hidden = report.check("lookahead.holdout")
    assert "determinism" in report.failed or (
        hidden is not None and not hidden.passed and "a second process" in hidden.detail
    ), report.failed


def test_the_same_strategy_is_deterministic_in_the_real_entry(candles) -> None:
    with JailSandbox(wall_s=30.0) as sb:
        first = evaluate_candidate(sb, SOURCE, candles, seed=3)
        proof = CandidateProver(sb, first, candles)(900, 52)
    assert proof.complete and proof.determinism is None and proof.prefix is None
