"""`ResearchLoop` in this process: a scripted proposer and the in-process sandbox drive every branch
of an iteration (a fix round that works, fix rounds exhausted, a look-ahead rejection, a duplicate,
a proposer error, a budget stop inside a batch, a gate rejection and a promotion) without a
subprocess, on a planted-edge synthetic market with the gate opened wide.

The proposer is written here the way an httpx `MockTransport` is: a handler per call decides the
answer, so each test reads as the script of its run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from rara.backtest import warm_up
from rara.config import BacktestSettings
from rara.data.synth import generate
from rara.domain.gate import LearningView
from rara.domain.market import Candles, Instrument, Timeframe
from rara.events.store import EventStore
from rara.home import Home
from rara.registry import Registry
from rara.research.loop import ResearchLoop, RunLimits
from rara.research.memory import LessonStore
from rara.research.models import (
    Candidate,
    Hypothesis,
    LlmCall,
    Proposal,
    ProposerContext,
    Reflection,
)
from rara.research.ports import BudgetExhausted, ProposerError
from rara.research.store import Experiment, ResearchStore
from rara.research.trace import run_hash
from rara.runner.sandbox import InProcessSandbox
from rara.validation.gate import ResearchGate
from rara.validation.trials import TrialStore
from tests.kit.gates import opened_gate
from tests.kit.paths import REPO
from tests.kit.strategies import PEEKS_AT_NEXT_CLOSE

RUN_ID = "run-inprocess"
SMA = (REPO / "strategies" / "examples" / "sma_crossover" / "strategy.py").read_text()
BROKEN = """
def meta():
    return {"name": "broken", "version": "1.0.0", "api_version": 1, "timeframe": "1h",
            "lookback": 1, "description": "reads a param it never declared", "params": {}}


def on_candles(candles, params):
    return params["boom"], params["boom"]
"""
PEEK = PEEKS_AT_NEXT_CLOSE
# On this market, with the gate below, SMA(3/10) passes every check and SMA(20/50) fails the
# holdout (both measured once and pinned by the assertions).
PASSES = {"fast": 3, "slow": 10}
FAILS_HOLDOUT = {"fast": 20, "slow": 50}
WIDE_OPEN = opened_gate(
    min_holdout_psr=0,
    train_fraction=0.6,  # the split PASSES and FAILS_HOLDOUT were measured on
    validation_fraction=0.2,
)
CALL_COST = 0.01


def candidate(source: str, params: dict[str, Any] | None = None, origin: str = "fake") -> Candidate:
    family = "sma" if source == SMA else source.split('"name": "')[1].split('"')[0]
    return Candidate(
        hypothesis=Hypothesis(hypothesis=f"{family} {params}", rationale="scripted", family=family),
        source=source,
        params=params,
        origin=origin,
    )


Propose = Callable[[ProposerContext], Candidate]
Fix = Callable[[ProposerContext, Candidate, str, int], Candidate | None]


def no_fix(ctx: ProposerContext, cand: Candidate, error: str, round_no: int) -> Candidate | None:
    return None


@dataclass
class FakeProposer:
    """Answers `propose` and `fix` with the handlers it was given; every answer costs CALL_COST
    and carries its call (on the `Proposal`, or on the error it raised, as an LLM proposer's
    would). Records the errors it was asked to fix."""

    propose_handler: Propose
    fix_handler: Fix = no_fix
    name: str = "fake"

    def __post_init__(self) -> None:
        self.fix_requests: list[tuple[int, int, str]] = []

    @staticmethod
    def _call(purpose: Literal["propose", "fix"]) -> LlmCall:
        return LlmCall(purpose=purpose, model="fake", cost_usd=CALL_COST)

    def propose(self, ctx: ProposerContext) -> Proposal:
        call = self._call("propose")
        try:
            return Proposal(candidate=self.propose_handler(ctx), calls=[call])
        except (ProposerError, BudgetExhausted) as exc:
            exc.calls = [call, *exc.calls]
            raise

    def fix(
        self,
        ctx: ProposerContext,
        candidate: Candidate,
        error: str,
        round_no: int,
        max_rounds: int,
    ) -> Proposal | None:
        self.fix_requests.append((ctx.iteration, round_no, error))
        fixed = self.fix_handler(ctx, candidate, error, round_no)
        return None if fixed is None else Proposal(candidate=fixed, calls=[self._call("fix")])

    def reflect(self, ctx: ProposerContext, candidate: Candidate, view: LearningView) -> Reflection:
        return Reflection(insight=f"reflected on {candidate.hypothesis.family}")


def by_iteration(script: dict[int, Candidate | Exception]) -> Propose:
    def handler(ctx: ProposerContext) -> Candidate:
        answer = script[ctx.iteration]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler


@pytest.fixture(scope="module")
def market() -> tuple[Instrument, Candles]:
    warm_up()  # vectorbt's one-off JIT, so each test's time is the loop's own
    inst = Instrument(exchange="synthetic", symbol="EDGE/USDT", timeframe=Timeframe.parse("1h"))
    candles = generate(1000, "1h", seed=5, edge="momentum", edge_strength=0.4).candles
    return inst, candles


@dataclass
class Ran:
    home: Path
    stop: str
    experiments: list[Experiment]
    run_hash: str
    trials: int

    def __getitem__(self, i: int) -> Experiment:
        return next(e for e in self.experiments if e.iteration == i)


@pytest.fixture
def run_loop(
    market: tuple[Instrument, Candles], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Ran]]:
    """Run a loop to its end in a fresh home named `home`; the stores are closed afterwards."""
    opened: list[Any] = []

    def run(proposer: FakeProposer, limits: RunLimits, home: str = "home", seed: int = 1) -> Ran:
        root = tmp_path / home
        monkeypatch.setenv("RARA_HOME", str(root))
        db = root / "rara.db"
        root.mkdir()
        inst, candles = market
        trials, store = TrialStore(db), ResearchStore(db)
        lessons, events = LessonStore(db), EventStore(db)
        opened.extend([trials, store, lessons, events])
        store.start_run(RUN_ID, {"seed": seed})
        loop = ResearchLoop(
            run_id=RUN_ID,
            seed=seed,
            inst=inst,
            candles=candles,
            proposer=proposer,
            sandbox=InProcessSandbox(),
            gate=ResearchGate(trials, WIDE_OPEN, BacktestSettings()),
            store=store,
            lessons=lessons,
            events=events,
            limits=limits,
            registry=Registry(Home(root=root)),
        )
        stop = loop.run()
        return Ran(root, stop, store.of_run(RUN_ID), run_hash(events, RUN_ID), trials.count())

    yield run
    for closer in opened:
        closer.close()


def test_branch_matrix(run_loop: Callable[..., Ran]) -> None:
    script: dict[int, Candidate | Exception] = {
        0: candidate(SMA, PASSES),  # promoted
        1: candidate(SMA, PASSES),  # the same in-market series as 0
        2: candidate(BROKEN),  # fixed in round 1
        3: ProposerError("bad_reply", "the reply was not JSON"),
        4: candidate(BROKEN, origin="stubborn"),  # every fix is broken too
        5: candidate(PEEK),  # no fix offered
        6: candidate(SMA, FAILS_HOLDOUT),
    }

    def fix(ctx: ProposerContext, cand: Candidate, error: str, round_no: int) -> Candidate | None:
        if ctx.iteration == 2:
            return candidate(SMA, {"fast": 5, "slow": 20}, origin="fake:fix1")
        if ctx.iteration == 4:
            return candidate(BROKEN, origin=f"stubborn:fix{round_no}")
        return None

    proposer = FakeProposer(by_iteration(script), fix)
    ran = run_loop(proposer, RunLimits(iterations=7, fix_rounds=2, batch=2))
    assert ran.stop == "iterations"
    outcomes = {e.iteration: (e.outcome, e.failed_check, e.fix_rounds) for e in ran.experiments}
    assert outcomes == {
        0: ("paper_candidate", None, 0),
        1: ("duplicate", "duplicate", 0),
        2: (outcomes[2][0], outcomes[2][1], 1),
        3: ("error", "proposer.bad_reply", 0),
        4: ("error", "sandbox.runtime_error", 2),
        5: ("rejected", outcomes[5][1], 0),
        6: ("rejected", "holdout.sharpe", 0),
    }
    # the fix round: the repaired candidate is what was gated and recorded
    assert ran[2].outcome in ("paper_candidate", "rejected") and ran[2].origin == "fake:fix1"
    assert ran[2].report is not None and ran[2].strategy_id is not None
    assert ran[2].cost_usd == pytest.approx(2 * CALL_COST)  # propose + one fix
    # fix rounds exhausted: each round was fed the exact sandbox error, then it stopped
    asked = [(i, r) for i, r, _ in proposer.fix_requests if i == 4]
    assert asked == [(4, 1), (4, 2)]
    assert all("runtime_error" in e and "boom" in e for i, _, e in proposer.fix_requests if i == 4)
    assert ran[4].origin == "stubborn:fix2" and ran[4].cost_usd == pytest.approx(3 * CALL_COST)
    assert ran[4].strategy_id is not None  # meta() ran before on_candles raised
    # look-ahead: rejected without a gate report, the fix was asked once and declined
    assert outcomes[5][1].startswith("lookahead.") and ran[5].report is None
    # the duplicate names its twin and never reaches the gate
    assert ran[1].error is not None and ran[1].error.endswith(ran[0].experiment_id)
    assert ran[1].report is None
    # the proposer error carries the call it made
    assert ran[3].error == "the reply was not JSON" and ran[3].cost_usd == pytest.approx(CALL_COST)
    # the promotion read the holdout; the rejection failed there
    for i in (0, 6):
        report = ran[i].report
        assert report is not None and "holdout" in report["segments"]
    # the gate reported each gated candidate's declared timeframe as matching
    for i in (0, 2, 6):
        report = ran[i].report
        assert report is not None
        check = next(c for c in report["checks"] if c["name"] == "meta.timeframe")
        assert check["passed"] and check["value"] == "1h"


def test_promotion_writes_a_paper_candidate(run_loop: Callable[..., Ran]) -> None:
    proposer = FakeProposer(by_iteration({0: candidate(SMA, PASSES)}))
    ran = run_loop(proposer, RunLimits(iterations=1, batch=1))
    assert ran[0].outcome == "paper_candidate"
    manifests = list((ran.home / "strategies" / "promoted").glob("*/manifest.json"))
    assert len(manifests) == 1
    manifest = json.loads(manifests[0].read_text())
    assert manifest["experiment_id"] == ran[0].experiment_id
    assert manifest["strategy_id"] == ran[0].strategy_id and manifest["timeframe"] == "1h"
    assert set(manifest["trial_ids"]) == {"train", "validation", "holdout"}


def test_budget_stop_inside_a_batch(run_loop: Callable[..., Ran]) -> None:
    """The limit is crossed proposing the second candidate of the second batch: the run stops
    there, that iteration is recorded as a budget error carrying every call made since the last
    finished one (the first candidate's proposal too, unevaluated), and nothing after it ran."""
    crossing = LlmCall(purpose="propose", model="fake", prompt_tokens=7, cost_usd=CALL_COST)
    exhausted = BudgetExhausted("budget", "reached --max-cost-usd")
    exhausted.call = crossing  # type: ignore[attr-defined]
    script: dict[int, Candidate | Exception] = {
        0: candidate(SMA, PASSES),
        1: candidate(SMA, FAILS_HOLDOUT),
        2: candidate(SMA, {"fast": 5, "slow": 20}),
        3: exhausted,
    }
    ran = run_loop(FakeProposer(by_iteration(script)), RunLimits(iterations=6, batch=2))
    assert ran.stop == "max_cost_usd"
    assert [(e.iteration, e.outcome) for e in ran.experiments] == [
        (0, "paper_candidate"),
        (1, "rejected"),
        (3, "error"),
    ]
    stopped = ran[3]
    assert stopped.failed_check == "budget" and stopped.error == "reached --max-cost-usd"
    # iteration 2's proposal, iteration 3's failed proposal, and the crossing call
    assert stopped.cost_usd == pytest.approx(3 * CALL_COST)
    assert len(stopped.llm_calls) == 3


def test_same_seed_same_experiments(run_loop: Callable[..., Ran]) -> None:
    def script() -> dict[int, Candidate | Exception]:
        return {
            0: candidate(SMA, PASSES),
            1: candidate(BROKEN),
            2: candidate(SMA, FAILS_HOLDOUT),
            3: candidate(SMA, PASSES),
        }

    def fix(ctx: ProposerContext, cand: Candidate, error: str, round_no: int) -> Candidate | None:
        return candidate(SMA, {"fast": 4, "slow": 12}, origin="fake:fix1")

    limits = RunLimits(iterations=4, batch=2)
    a = run_loop(FakeProposer(by_iteration(script()), fix), limits, home="a")
    b = run_loop(FakeProposer(by_iteration(script()), fix), limits, home="b")

    def rows(ran: Ran) -> list[dict[str, Any]]:
        return [e.model_dump(exclude={"created_at"}) for e in ran.experiments]

    assert len(a.experiments) == 4
    assert rows(a) == rows(b)
    assert a.run_hash == b.run_hash and a.trials == b.trials
