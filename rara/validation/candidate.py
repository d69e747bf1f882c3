"""A candidate's one sandbox evaluation, read once at the edge: whether it ran, its typed meta
and identity, and the look-ahead outcomes.

The sandbox hands back an untrusted meta dict; it becomes a `StrategyMeta` here, once, and the
strategy id and source hash are computed here, once. The look-ahead checks run here, once: the
research loop decides from them whether to ask for a fix, and the gate reports them.
"""

from __future__ import annotations

from dataclasses import dataclass

from rara.domain.strategy import StrategyMeta, StrategyRef
from rara.validation.lookahead import CheckOutcome, check
from rara_sandbox.results import EvaluationResult


@dataclass(frozen=True)
class CheckedEvaluation:
    """What the sandbox returned for one source, with what the host read from it. `meta` and
    `ref` are set whenever the strategy declared a meta (a later failure keeps them: the error
    belongs to that strategy), `lookahead` only when the evaluation did not fail: the outcomes
    on the bars before `holdout_start` (what the loop and a proposer may see), while a failure
    first seen at a holdout bar is `holdout_lookahead`, which only the gate's hidden decision
    reads."""

    source: str
    evaluation: EvaluationResult
    meta: StrategyMeta | None
    ref: StrategyRef | None
    lookahead: tuple[CheckOutcome, ...]
    holdout_lookahead: CheckOutcome | None = None

    @classmethod
    def of(
        cls, source: str, evaluation: EvaluationResult, holdout_start: int | None = None
    ) -> CheckedEvaluation:
        if evaluation.meta is None:
            return cls(source, evaluation, None, None, ())
        meta = StrategyMeta.from_sandbox(evaluation.meta)
        ref = StrategyRef.of(source, meta)
        if evaluation.failed:
            return cls(source, evaluation, meta, ref, ())
        outcomes = check(evaluation, meta.lookback, holdout_start)
        return cls(source, evaluation, meta, ref, outcomes.learnable, outcomes.holdout)

    @property
    def failed(self) -> bool:
        return self.evaluation.failed

    @property
    def lookahead_failure(self) -> CheckOutcome | None:
        """The first look-ahead check that failed, if any."""
        return next((o for o in self.lookahead if not o.passed), None)

    def sandbox_error(self) -> str | None:
        """A failed evaluation's error as a person reads it (what a fix round is fed)."""
        if not self.failed:
            return None
        err = self.evaluation.error
        if err is None:
            return "the sandbox returned no result"
        return f"{err.code}: {err.message}" + (f" (line {err.line})" if err.line else "")

    @property
    def sandbox_code(self) -> str:
        err = self.evaluation.error
        return err.code if err else "unknown"
