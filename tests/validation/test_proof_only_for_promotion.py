"""The exhaustive causality proof (a second sandbox process, every prefix) runs only for a
candidate that reached the promotion decision: one that passed every other check. A candidate
refused earlier costs no proof at all."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rara.config import BacktestSettings, ResearchGateSettings
from rara.domain.market import Candles, Instrument, Timeframe
from rara.runner.sandbox import InProcessSandbox
from rara.services.backtest import CandidateProver, evaluate_candidate
from rara.validation.causality import CausalityProof
from rara.validation.gate import ResearchGate
from rara.validation.trials import TrialStore
from tests.kit.candles import shipped_btc
from tests.kit.gates import opened_gate
from tests.kit.paths import TEMPLATE

INST = Instrument(exchange="binance", symbol="BTC/USDT", timeframe=Timeframe.parse("1h"))
LOOSE = opened_gate()
STRICT = ResearchGateSettings(min_sharpe=50.0)  # nothing real passes the validation floor


@dataclass
class CountingProver:
    """The real `CandidateProver`, with a record of the proofs the gate asked for."""

    prover: CandidateProver
    asked: list[tuple[int, int]] = field(default_factory=list)

    def __call__(self, from_bar: int, trailing_window: int) -> CausalityProof:
        self.asked.append((from_bar, trailing_window))
        return self.prover(from_bar, trailing_window)


def _judge(settings: ResearchGateSettings, candles: Candles, db: Path) -> tuple[list[str], int]:
    sandbox = InProcessSandbox(wall_s=60.0)
    with TrialStore(db) as trials:
        gate = ResearchGate(trials, settings, BacktestSettings(fee=0.0, slippage=0.0))
        holdout = gate.split(candles).holdout[0]
        checked = evaluate_candidate(sandbox, TEMPLATE.read_text(), candles, None, 3, holdout)
        prover = CountingProver(CandidateProver(sandbox, checked, candles))
        report = gate.judge(checked, name="template", candles=candles, inst=INST, prove=prover)
    return report.failed, len(prover.asked)


def test_a_candidate_refused_before_the_proof_is_not_proven(tmp_path: Path) -> None:
    candles = shipped_btc("1h").slice(0, 1500)
    failed, proofs = _judge(STRICT, candles, tmp_path / "strict.db")
    assert failed and "lookahead.exhaustive" not in failed
    assert proofs == 0


def test_a_candidate_that_passed_everything_else_is_proven_once(tmp_path: Path) -> None:
    candles = shipped_btc("1h").slice(0, 1500)
    failed, proofs = _judge(LOOSE, candles, tmp_path / "loose.db")
    assert proofs == 1
    assert "lookahead.exhaustive" not in failed
