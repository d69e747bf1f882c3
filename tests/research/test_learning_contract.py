"""The holdout cannot reach a proposer: a test that tries.

The real loop, gate and stores run in-process with the built-in proposer behind a recorder; the
gate's reports then say the holdout was read, passed on some candidates and failed on others, with
figures chosen so that any copy of them shows. A second run recalls the first run's lessons.
Nothing a proposer is handed (context, lessons, history, best so far, learning view) may hold a
holdout figure, check name or trial id, nor the decision taken on it, while the stored reports
show they were there to leak. (`test_holdout_blind` runs the real loop and gate on two holdouts.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rara.config import BacktestSettings
from rara.data.catalog import Catalog
from rara.domain.gate import GateReport, LearningView
from rara.domain.market import Instrument, Timeframe
from rara.events.store import EventStore
from rara.home import Home
from rara.registry import Registry
from rara.research.loop import ResearchLoop, RunLimits
from rara.research.memory import LessonStore
from rara.research.store import ResearchStore
from rara.runner.sandbox import InProcessSandbox
from rara.validation.gate import ResearchGate
from rara.validation.trials import TrialStore
from tests.kit.gate_reports import HOLDOUT_MARKS, report, view, with_holdout
from tests.kit.gates import opened_gate
from tests.kit.proposers import RecordingProposer


class HoldoutReadingGate(ResearchGate):
    """The real gate; each report then reads the holdout, failing it every other time."""

    reads = 0

    def judge(self, *args: Any, **kwargs: Any) -> GateReport:
        self.reads += 1
        return with_holdout(super().judge(*args, **kwargs), passed=self.reads % 2 == 0)


def leaks(texts: list[str]) -> list[str]:
    return [m for t in texts for m in HOLDOUT_MARKS if m in t.lower()]


def test_the_learning_view_has_nowhere_to_hold_the_holdout() -> None:
    for passed in (True, False):
        from_report = report([{"name": "floor.sharpe", "passed": True, "value": 1.2}])
        full = with_holdout(from_report, passed)
        assert leaks([full.model_dump_json()])  # the figures are in the report
        seen = LearningView.of(full)
        assert not leaks([seen.model_dump_json()])
        assert seen.failed == [] and seen.passed_before_holdout
    assert not leaks(
        [view([{"name": "holdout", "passed": False, "value": 7.654321}]).model_dump_json()]
    )


def test_a_recording_proposer_is_never_handed_the_holdout(tmp_path: Path) -> None:
    inst = Instrument(exchange="binance", symbol="BTC/USDT", timeframe=Timeframe.parse("1h"))
    candles = Catalog(tmp_path / "data").load(inst).slice(0, 3000)
    db = tmp_path / "rara.db"
    # a gate opened wide: candidates get as far as the holdout, which then decides
    loose = opened_gate(min_holdout_psr=0, holdout_read_budget=100)
    store, lessons, events = ResearchStore(db), LessonStore(db), EventStore(db)
    trials = TrialStore(db)
    recorders = []
    try:
        for run, seed in (("run-a", 1), ("run-b", 2)):
            gate = HoldoutReadingGate(trials, loose, BacktestSettings())
            proposer = RecordingProposer(seed)
            loop = ResearchLoop(
                run_id=run,
                seed=seed,
                inst=inst,
                candles=candles,
                proposer=proposer,
                sandbox=InProcessSandbox(),
                gate=gate,
                store=store,
                lessons=lessons,
                events=events,
                limits=RunLimits(4, batch=1),
                registry=Registry(Home(root=tmp_path)),
            )
            loop.run()
            recorders.append(proposer)
        rows = {e.experiment_id: e for e in store.of_run("run-a") + store.of_run("run-b")}
        stored = [e.report for e in rows.values()]
    finally:
        for closer in (store, lessons, events, trials):
            closer.close()

    # the holdout was read, both ways, and its figures are on record
    assert stored and all(r is not None for r in stored)
    assert leaks([str(r) for r in stored])
    decisions = {r["decision"] for r in stored if r is not None}
    assert decisions == {"paper_candidate", "rejected"}
    # the proposers learned from every verdict, and the second run recalled the first's lessons
    a, b = recorders
    assert len(a.views) == len(b.views) == 4
    assert any(lesson.run_id == "run-a" for c in b.contexts for lesson in c.lessons)
    assert any(c.history for c in b.contexts)
    # and not one holdout figure, check name or trial id among all they were handed
    assert leaks(a.seen + b.seen) == []
    for ctx in a.contexts + b.contexts:
        assert all(o.failed_check is None or "holdout" not in o.failed_check for o in ctx.history)
        assert all(o.failure is None or "holdout" not in o.failure for o in ctx.history)
    # promoted or rejected by the holdout, a candidate that passed every check before it is told
    # "passed_checks", and that is all a proposer or a lesson is told of the decision
    told = [(o.experiment_id, o.outcome) for c in b.contexts for o in c.history]
    told += [(lesson.experiment_id, lesson.outcome) for c in b.contexts for lesson in c.lessons]
    assert {outcome for _, outcome in told} >= {"passed_checks"}
    for eid, outcome in told:
        report = GateReport.model_validate(rows[eid].report)
        assert (outcome == "passed_checks") == LearningView.of(report).passed_before_holdout
