"""Only the holdout differs, so nothing the search learns may differ (issue 9, acceptance 4).

The real research loop, gate and stores run twice, in two homes, on candles that are the same up
to the holdout: real BTC/USDT 1h candles, and the same candles with every holdout bar mirrored
about the last close before it (a real path, turned upside down: still valid OHLC). In each home
a second run recalls the first run's lessons. The built-in proposer sits behind a recorder that
keeps everything it is handed: contexts (history, best so far, lessons recalled), fix errors,
learning views, and the insights it writes. All of it, and every lesson stored, must be the same
in both homes, while the gate's reports show the holdout was read and decided differently.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from rara.config import BacktestSettings
from rara.data.catalog import Catalog
from rara.domain.gate import HOLDOUT_CHECKS, GateReport
from rara.domain.market import Candles, Instrument, Timeframe
from rara.events.store import EventStore
from rara.home import Home
from rara.registry import Registry
from rara.research.loop import ResearchLoop, RunLimits
from rara.research.memory import LessonStore
from rara.research.models import (
    Lesson,
    learnable_outcome,
)
from rara.research.outcomes import duplicate_of
from rara.research.store import ResearchStore
from rara.runner.sandbox import InProcessSandbox
from rara.validation.gate import ResearchGate
from rara.validation.trials import TrialStore
from tests.kit.gates import opened_gate
from tests.kit.proposers import RecordingProposer

BARS = 1500
RUNS = (("run-a", 1), ("run-b", 2))
ITERATIONS = 4
# a gate opened wide, so candidates get as far as the holdout, which then decides
LOOSE = opened_gate("min_track_record_confidence", min_holdout_psr=0)
INST = Instrument(exchange="binance", symbol="BTC/USDT", timeframe=Timeframe.parse("1h"))


@dataclass(frozen=True)
class Researched:
    """What one home's two runs left: what the proposers were handed, the lessons stored, and
    the gate's reports by experiment id."""

    recorders: list[RecordingProposer]
    lessons: list[Lesson]
    reports: dict[str, GateReport]


def mirrored_holdout(candles: Candles, start: int) -> Candles:
    """The candles with every bar from `start` on mirrored about the close before it (price p
    becomes c*c/p: each rise a fall of the same log size); high and low trade places."""
    pivot = float(candles.close[start - 1]) ** 2

    def flip(before: np.ndarray, mirror: np.ndarray) -> np.ndarray:
        return np.concatenate([before[:start], pivot / mirror[start:]])

    return Candles(
        candles.ts.copy(),
        flip(candles.open, candles.open),
        flip(candles.high, candles.low),  # the lowest price mirrored is the highest
        flip(candles.low, candles.high),
        flip(candles.close, candles.close),
        candles.volume.copy(),
    )


def research(root: Path, candles: Candles) -> Researched:
    """Two runs of the real loop in a fresh home, the second recalling the first's lessons."""
    db = root / "rara.db"
    store, lessons, events, trials = (
        ResearchStore(db),
        LessonStore(db),
        EventStore(db),
        TrialStore(db),
    )
    recorders = []
    try:
        for run, seed in RUNS:
            recorder = RecordingProposer(seed)
            ResearchLoop(
                run_id=run,
                seed=seed,
                inst=INST,
                candles=candles,
                proposer=recorder,
                sandbox=InProcessSandbox(),
                gate=ResearchGate(trials, LOOSE, BacktestSettings()),
                store=store,
                lessons=lessons,
                events=events,
                limits=RunLimits(ITERATIONS),
                registry=Registry(Home(root=root)),
            ).run()
            recorders.append(recorder)
        rows = [e for run, _ in RUNS for e in store.of_run(run)]
        reports = {e.experiment_id: GateReport.model_validate(e.report) for e in rows if e.report}
        stored = lessons.recent(limit=10 * ITERATIONS)
    finally:
        for closer in (store, lessons, events, trials):
            closer.close()
    # when a lesson was written is no part of what it says
    return Researched(recorders, [x.model_copy(update={"created_at": ""}) for x in stored], reports)


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Researched, Researched]:
    real = Catalog(tmp_path_factory.mktemp("data")).load(INST).slice(0, BARS)
    start = ResearchGate(
        TrialStore(tmp_path_factory.mktemp("split") / "t.db"), LOOSE, BacktestSettings()
    )
    cut = start.split(real).holdout[0]
    start.trials.close()
    other = mirrored_holdout(real, cut)
    # the same bars up to the holdout, different ones in it
    for column in Candles.COLUMNS:
        assert np.array_equal(getattr(real, column)[:cut], getattr(other, column)[:cut])
        if column not in ("ts", "volume"):
            assert not np.array_equal(getattr(real, column)[cut:], getattr(other, column)[cut:])
    return research(tmp_path_factory.mktemp("real"), real), research(
        tmp_path_factory.mktemp("mirrored"), other
    )


def test_nothing_a_proposer_or_a_lesson_receives_depends_on_the_holdout(
    homes: tuple[Researched, Researched],
) -> None:
    real, mirrored = homes
    for a, b in zip(real.recorders, mirrored.recorders, strict=True):
        assert a.seen  # it was handed something
        assert a.seen == b.seen
    assert real.lessons and real.lessons == mirrored.lessons
    # the second run recalled the first run's lessons, and learned from its own history
    second = real.recorders[1]
    assert any(lesson.run_id == "run-a" for c in second.contexts for lesson in c.lessons)
    assert any(c.history and c.best is not None for c in second.contexts)


def test_the_holdout_was_read_and_decided_differently(homes: tuple[Researched, Researched]) -> None:
    real, mirrored = homes
    assert real.reports.keys() == mirrored.reports.keys()
    read = [e for e, r in real.reports.items() if "holdout" in r.segments]
    assert read and read == [e for e, r in mirrored.reports.items() if "holdout" in r.segments]
    for e in read:
        assert real.reports[e].segments["holdout"] != mirrored.reports[e].segments["holdout"]
    decided = {e: (real.reports[e].decision, mirrored.reports[e].decision) for e in read}
    assert any(x != y for x, y in decided.values()), decided
    # ... and each such candidate was told no more than "passed_checks", in both homes
    told = {o.experiment_id: o.outcome for c in real.recorders[1].contexts for o in c.history}
    assert {told[e] for e in read if e in told} == {"passed_checks"}


def test_a_duplicate_is_judged_on_the_bars_before_the_holdout() -> None:
    """Two candidates in the market on the same bars up to the holdout are duplicates whatever
    they did in it; two that differ before it are not, however alike their holdouts."""
    cut = 60
    rng = np.random.default_rng(7)
    before = rng.random(cut) < 0.5
    held_a, held_b = rng.random(40) < 0.5, rng.random(40) < 0.5
    mine = np.concatenate([before, held_a])
    same_before = np.concatenate([before, held_b])
    assert duplicate_of(mine, [("e1", same_before)], bars=cut) == "e1"
    other_before = np.concatenate([~before, held_a])
    assert duplicate_of(mine, [("e2", other_before)], bars=cut) is None


def test_the_learnable_outcome_reads_only_the_checks_before_the_holdout() -> None:
    """Promoted, or rejected by any holdout check: every check before it passed, and that is all
    the learning side is told. A failure before the holdout, a duplicate or an error stays."""
    assert learnable_outcome("paper_candidate", None) == "passed_checks"
    for check in sorted(HOLDOUT_CHECKS):
        assert learnable_outcome("rejected", check) == "passed_checks"
    assert learnable_outcome("rejected", "floor.sharpe") == "rejected"
    assert learnable_outcome("rejected", "lookahead.exhaustive") == "rejected"
    assert learnable_outcome("duplicate", "duplicate") == "duplicate"
    assert learnable_outcome("error", "sandbox.timeout") == "error"
