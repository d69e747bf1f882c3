"""What a proposer is handed before iteration i: the run's market and regime, the lessons recalled
for it, the experiments finished before a horizon and the best of them so far (train and
validation numbers only; the holdout never reaches a proposer).

The history is kept, not rebuilt per proposal (`EarlierExperiments`): each experiment is turned
into its `ExperimentOutcome` once, and the list and the best so far are extended with what
finished since, so a proposal costs the same at iteration 10,000 as at 10.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rara.domain.market import Instrument
from rara.research.memory import LessonStore
from rara.research.models import (
    BestSoFar,
    ExperimentOutcome,
    Lesson,
    ProposerContext,
    Regime,
)
from rara.research.store import Experiment

RECALLED_LESSONS = 5


@dataclass(frozen=True)
class ContextBuilder:
    """One run's fixed part of every context; `of` adds what the run has finished so far."""

    run_id: str
    seed: int
    inst: Instrument
    regime: Regime
    lessons: LessonStore
    # lessons every proposal sees first, whatever recall ranks: a retrain's (the demoted
    # strategy's own and why it was demoted, `rara.research.retrain`)
    pinned: tuple[Lesson, ...] = ()
    earlier: EarlierExperiments = field(
        default_factory=lambda: EarlierExperiments(), init=False, repr=False, compare=False
    )

    def of(self, finished: Sequence[Experiment], i: int, horizon: int | None) -> ProposerContext:
        """Iteration i's context from the experiments finished before `horizon` (default i).
        `finished` is the run's list of finished experiments in finish order, only ever appended
        to (another list, or one that changed otherwise, is read afresh)."""
        cut = i if horizon is None else horizon
        history, best = self.earlier.before(finished, cut)
        inst = self.inst
        recalled = self.lessons.recall(
            inst.symbol,
            str(inst.timeframe),
            f"{inst.symbol} {inst.timeframe} {self.regime}",
            k=RECALLED_LESSONS,
            regime=self.regime,
            # as of the horizon: lessons this run left from there on did not exist yet
            hide=(self.run_id, cut),
        )
        return ProposerContext(
            run_id=self.run_id,
            iteration=i,
            seed=self.seed,
            exchange=inst.exchange,
            symbol=inst.symbol,
            timeframe=str(inst.timeframe),
            regime=self.regime,
            lessons=[*self.pinned, *_not_pinned(recalled, self.pinned)]
            if self.pinned
            else recalled,
            history=history,
            best=None if best is None else _best_so_far(best),
        )


def _not_pinned(recalled: list[Lesson], pinned: tuple[Lesson, ...]) -> list[Lesson]:
    ids = {ls.experiment_id for ls in pinned}
    return [ls for ls in recalled if ls.experiment_id not in ids]


class EarlierExperiments:
    """The experiments of `finished` before a cut, as proposers see them, and the best of them:
    exactly ``[e.as_outcome() for e in finished if e.iteration < cut]`` and `best_of` of the same,
    kept between calls.

    What is kept is the longest prefix of `finished` whose experiments all lie before the cut;
    a later call extends it with what finished since, and adds the few experiments past the
    first one that does not (an iteration that finished early, e.g. on a proposer error) without
    keeping them. A cut below an experiment already kept, or another list, starts over from the
    outcomes already converted, so the answer is the full scan's in every case."""

    def __init__(self) -> None:
        self.finished: Sequence[Experiment] | None = None
        self.kept: list[Experiment] = []
        self.outcomes: list[ExperimentOutcome] = []
        self.best: Experiment | None = None
        self.last_iteration = -1  # the highest iteration kept
        self.conversions = 0  # `as_outcome` calls so far: one per experiment
        self._converted: dict[str, tuple[Experiment, ExperimentOutcome]] = {}

    def before(
        self, finished: Sequence[Experiment], cut: int
    ) -> tuple[list[ExperimentOutcome], Experiment | None]:
        n = len(self.kept)
        if (
            finished is not self.finished
            or len(finished) < n
            or (n and finished[n - 1] is not self.kept[-1])
            or self.last_iteration >= cut
        ):
            self._start_over(finished)
        j = len(self.kept)
        while j < len(finished) and finished[j].iteration < cut:
            e = finished[j]
            self.kept.append(e)
            self.outcomes.append(self._outcome(e))
            self.best = _better(self.best, e)
            self.last_iteration = max(self.last_iteration, e.iteration)
            j += 1
        rest = [e for e in finished[j:] if e.iteration < cut]
        if not rest:
            return list(self.outcomes), self.best
        best = self.best
        for e in rest:
            best = _better(best, e)
        return [*self.outcomes, *(self._outcome(e) for e in rest)], best

    def _start_over(self, finished: Sequence[Experiment]) -> None:
        self.finished = finished
        self.kept, self.outcomes, self.best, self.last_iteration = [], [], None, -1

    def _outcome(self, e: Experiment) -> ExperimentOutcome:
        seen = self._converted.get(e.experiment_id)
        if seen is not None and seen[0] is e:
            return seen[1]
        outcome = e.as_outcome()
        self.conversions += 1
        self._converted[e.experiment_id] = (e, outcome)
        return outcome


def _better(best: Experiment | None, e: Experiment) -> Experiment | None:
    """One step of `best_of`'s fold (Python's max: a later one replaces only a greater key)."""
    if e.validation_sharpe is None:
        return best
    if best is None or _score(e) > _score(best):
        return e
    return best


def _score(e: Experiment) -> tuple[float, int]:
    return (e.validation_sharpe or 0.0, -e.iteration)


def best_of(experiments: Iterable[Experiment]) -> Experiment | None:
    """The best scored experiment by validation Sharpe (never by holdout); the earlier one wins a
    tie."""
    scored = [e for e in experiments if e.validation_sharpe is not None]
    return max(scored, key=_score, default=None)


def _best_so_far(e: Experiment) -> BestSoFar:
    return BestSoFar(
        experiment_id=e.experiment_id,
        family=e.family,
        source=e.source,
        params=e.params,
        validation_sharpe=float(e.validation_sharpe or 0.0),
    )
