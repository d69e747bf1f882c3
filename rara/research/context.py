"""What a proposer is handed before iteration i: the run's market and regime, the lessons recalled
for it, the experiments finished before a horizon and the best of them so far (train and
validation numbers only; the holdout never reaches a proposer)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rara.domain.market import Instrument
from rara.research.memory import LessonStore
from rara.research.models import BestSoFar, ProposerContext, Regime
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

    def of(self, finished: Sequence[Experiment], i: int, horizon: int | None) -> ProposerContext:
        """Iteration i's context from the experiments finished before `horizon` (default i)."""
        cut = i if horizon is None else horizon
        earlier = [e for e in finished if e.iteration < cut]
        best = best_of(earlier)
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
            lessons=recalled,
            history=[e.as_outcome() for e in earlier],
            best=None if best is None else _best_so_far(best),
        )


def best_of(experiments: Iterable[Experiment]) -> Experiment | None:
    """The best scored experiment by validation Sharpe (never by holdout); the earlier one wins a
    tie."""
    scored = [e for e in experiments if e.validation_sharpe is not None]
    return max(scored, key=lambda e: (e.validation_sharpe or 0.0, -e.iteration), default=None)


def _best_so_far(e: Experiment) -> BestSoFar:
    return BestSoFar(
        experiment_id=e.experiment_id,
        family=e.family,
        source=e.source,
        params=e.params,
        validation_sharpe=float(e.validation_sharpe or 0.0),
    )
