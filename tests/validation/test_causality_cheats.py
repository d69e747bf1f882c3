"""The exhaustive causality proof against look-ahead cheats written to slip past sampled probes
(issue 9, acceptance 1 and 2), on the shipped real BTC/USDT 1h candles.

Each cheat in `tests.kit.strategies.LOOKAHEAD_CHEATS` leaks the future on only some bars, through
one route (rare bars, hash-picked bars avoiding the old fixed probes, exits only, risk levels, the
first bars, the last fifth, a centred window). The proof must reject every one by itself, and the
full gate must reject every one as look-ahead; honest strategies (the template, the shipped
examples, built-in proposer strategies) must pass it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from rara.config import BacktestSettings, ResearchGateSettings
from rara.domain.market import Candles, Instrument, Timeframe
from rara.research.builtin.family import all_families
from rara.research.builtin.space import Bias
from rara.runner.sandbox import EvaluationRequest, InProcessSandbox, JailSandbox
from rara.services.backtest import CandidateProver, evaluate_candidate, judge_candidate
from rara.validation.causality import causality_checks
from rara.validation.gate import ResearchGate
from rara.validation.lookahead import check
from rara.validation.trials import TrialStore
from rara_sandbox.results import Probe
from tests.kit.candles import shipped_btc
from tests.kit.gates import opened_gate
from tests.kit.paths import STRATEGIES, TEMPLATE
from tests.kit.strategies import LOOKAHEAD_CHEATS, _strategy

INST = Instrument(exchange="binance", symbol="BTC/USDT", timeframe=Timeframe.parse("1h"))
SHORT = 2000  # bars of the real history the proofs run on (the cost grows with its square)


@pytest.fixture(scope="module")
def btc() -> Candles:
    return shipped_btc("1h")


@pytest.fixture(scope="module")
def short(btc: Candles) -> Candles:
    return btc.slice(0, SHORT)


@pytest.fixture(scope="module")
def jail() -> Iterator[JailSandbox]:
    with JailSandbox(wall_s=30.0) as sb:
        yield sb


def old_fixed_plan(n: int) -> EvaluationRequest:
    """The probes before issue 9: the same bars for every strategy and every run."""
    rng = np.random.default_rng(0)
    perturb = [Probe("perturb", t, int(rng.integers(0, 2**31))) for t in sorted({n // 2, n - 5})]
    suffix = [Probe("suffix", s) for s in sorted({n // 10, n // 3})]
    return EvaluationRequest(
        source="",
        candles=shipped_btc("1h"),
        windows=tuple(sorted({3, 20, n // 2, n - 3, n - 1})),
        probes=(*perturb, *suffix),
    )


def test_the_old_fixed_plan_lets_the_probe_avoiding_leak_through(btc: Candles) -> None:
    request = old_fixed_plan(len(btc)).model_copy(
        update={"source": LOOKAHEAD_CHEATS["probe_avoiding"]}
    )
    outcomes = check(InProcessSandbox().evaluate(request), 30).learnable
    assert all(o.passed for o in outcomes), [o.detail for o in outcomes]


@pytest.mark.parametrize("cheat", sorted(LOOKAHEAD_CHEATS))
def test_the_exhaustive_proof_rejects_every_cheat(cheat: str, short: Candles) -> None:
    sandbox = InProcessSandbox(wall_s=30.0)
    first = evaluate_candidate(sandbox, LOOKAHEAD_CHEATS[cheat], short, seed=1)
    assert not first.failed, first.sandbox_error()
    assert first.meta is not None
    proof = CandidateProver(sandbox, first, short)(int(0.6 * SHORT), first.meta.lookback + 1)
    assert proof.complete, proof.error
    assert proof.prefix is not None, proof
    assert proof.prefix.full_value != proof.prefix.other_value
    exhaustive = causality_checks(proof)[0]
    assert exhaustive.name == "lookahead.exhaustive" and not exhaustive.passed
    assert f"history ending at bar {proof.prefix.bar}" in exhaustive.detail


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[ResearchGate]:
    with TrialStore(tmp_path / "trials.db") as trials:
        yield ResearchGate(trials, ResearchGateSettings(), BacktestSettings())


@pytest.mark.parametrize("cheat", sorted(LOOKAHEAD_CHEATS))
def test_the_gate_rejects_every_cheat_as_lookahead(
    cheat: str, jail: JailSandbox, gate: ResearchGate, btc: Candles
) -> None:
    report = judge_candidate(
        jail, gate, name=cheat, source=LOOKAHEAD_CHEATS[cheat], candles=btc, inst=INST, seed=7
    )
    assert not report.passed
    assert any(name.startswith("lookahead") for name in report.failed), report.failed


# Honest trend-following, plus a leak on one bar in three hundred (by the bar's time, after the
# first 1000 bars of the sample): the sampled probes almost never land on one; the proof must.
SNIPER = "LATER = 474352.0  # hours since the epoch: 2024-02-11\n" + _strategy(
    "sniper",
    "rare leak",
    """
    ahead = ta.full(n, 0.0)
    ahead[:-1] = close[1:] / close[:-1] - 1.0
    hour = (candles.timestamps // 3600000).astype("f8")
    leak = ((hour * 40503.0) % 65536.0 % 300.0 == 7.0) & (hour >= LATER)
    fast = ta.sma(close, 10)
    slow = ta.sma(close, 30)
    entries = ta.where(leak, ahead > 0.0, ta.crossover(fast, slow))
    return entries, ta.crossunder(fast, slow)""",
)


def test_the_gate_proves_what_the_probes_miss(jail: JailSandbox, short: Candles, tmp_path) -> None:
    # thresholds loosened so that the candidate reaches the proof; what it leaks is not judged
    loose = opened_gate("min_track_record_confidence")
    with TrialStore(tmp_path / "t.db") as trials:
        gate = ResearchGate(trials, loose, BacktestSettings(fee=0.0, slippage=0.0))
        report = judge_candidate(
            jail, gate, name="sniper", source=SNIPER, candles=short, inst=INST, seed=7
        )
    by_name = {c.name: c for c in report.checks}
    probes = ("lookahead.truncation", "lookahead.perturbation")
    assert all(by_name[n].passed for n in probes), [by_name[n].detail for n in probes]
    assert report.failed[:1] == ["lookahead.exhaustive"], report.failed
    assert not report.passed and "holdout" not in report.segments


def honest_sources() -> dict[str, str]:
    sources = {"template": TEMPLATE.read_text()}
    for path in sorted(STRATEGIES.glob("*/*/strategy.py")):
        if path != TEMPLATE:
            sources[path.parent.name] = path.read_text()
    rng = np.random.default_rng(11)
    families = all_families()
    for i in rng.choice(len(families), size=4, replace=False):
        family = families[int(i)]
        params = family.sample(rng, Bias(), 1000)
        sources[f"builtin:{family.name}"] = family.render(params, "1h")
    return sources


HONEST = honest_sources()


@pytest.mark.parametrize("name", sorted(HONEST))
def test_honest_strategies_pass_the_proof(name: str, short: Candles) -> None:
    sandbox = InProcessSandbox(wall_s=30.0)
    first = evaluate_candidate(sandbox, HONEST[name], short, seed=1)
    assert not first.failed and first.meta is not None, first.sandbox_error()
    assert first.lookahead_failure is None, first.lookahead_failure
    proof = CandidateProver(sandbox, first, short)(int(0.6 * SHORT), first.meta.lookback + 1)
    assert proof.complete, proof.error
    assert (proof.prefix, proof.trailing, proof.determinism) == (None, None, None), proof
    assert all(c.passed for c in causality_checks(proof))
