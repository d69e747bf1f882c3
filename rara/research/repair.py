"""An iteration's evaluation that did not go through: the fix rounds that feed the proposer the
exact error, and the record of an iteration the LLM cost limit stopped.

Both are steps of `rara.research.loop.ResearchLoop`, kept here so the loop reads as the spec of one
iteration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from rara.research.models import (
    BUDGET,
    Candidate,
    LlmCall,
    ProposerContext,
    experiment_id,
    sandbox_failure,
)
from rara.research.ports import BudgetExhausted, Proposer
from rara.research.record import IterationResult
from rara.validation.candidate import CheckedEvaluation


@dataclass(frozen=True)
class Repaired:
    """A candidate after its fix rounds: the last version tried, its checked evaluation, how many
    rounds it took, the LLM calls they made, and why it still fails (None: it does not)."""

    candidate: Candidate
    checked: CheckedEvaluation
    rounds: int
    calls: tuple[LlmCall, ...] = ()
    failed_check: str | None = None
    error: str | None = None


def why_failed(checked: CheckedEvaluation) -> tuple[str | None, str | None]:
    """(failed check, error) of an evaluation the loop cannot go on with, else (None, None): the
    sandbox refused or the strategy raised, or a look-ahead check failed."""
    if checked.failed:
        return sandbox_failure(checked.sandbox_code), checked.sandbox_error()
    bad = checked.lookahead_failure
    if bad is not None:
        return f"lookahead.{bad.name}", bad.detail
    return None, None


def repair(
    proposer: Proposer,
    evaluate: Callable[[Candidate], CheckedEvaluation],
    ctx: ProposerContext,
    cand: Candidate,
    first: CheckedEvaluation,
    max_rounds: int,
) -> Repaired:
    """The first evaluation, with up to `max_rounds` repairs (each re-evaluated in the sandbox),
    each fed the exact error. A fix call that crosses the LLM cost limit raises `BudgetExhausted`
    carrying every fix call made so far and the candidate (``partial``)."""
    rounds = 0
    checked = first
    calls: list[LlmCall] = []
    while True:
        if rounds:
            checked = evaluate(cand)
        failed_check, error = why_failed(checked)
        if error is None or rounds >= max_rounds:
            return Repaired(cand, checked, rounds, tuple(calls), failed_check, error)
        try:
            fixed = proposer.fix(ctx, cand, error, rounds + 1, max_rounds)
        except BudgetExhausted as exc:
            exc.calls = [*calls, *exc.calls]
            exc.partial = exc.partial if exc.partial is not None else cand
            raise
        if fixed is None:
            return Repaired(cand, checked, rounds, tuple(calls), failed_check, error)
        calls += fixed.calls
        cand, rounds = fixed.candidate, rounds + 1


def budget_stop(
    exc: BudgetExhausted,
    run_id: str,
    iteration: int,
    pending_calls: Mapping[int, Sequence[LlmCall]],
) -> IterationResult:
    """The call that crossed the limit happened and cost money: the iteration it stopped, as an
    error carrying every call made (the batch's proposals not yet finished, the stopped step's
    and the crossing one), so the summary's cost is the real spend, and the candidate or
    hypothesis it had got to (``exc.partial``)."""
    calls = [c for i in sorted(pending_calls) for c in pending_calls[i]]
    calls += exc.calls
    if exc.call is not None and exc.call not in calls:
        calls.append(exc.call)
    return IterationResult(
        iteration=iteration,
        experiment_id=experiment_id(run_id, iteration),
        outcome="error",
        candidate=exc.partial if isinstance(exc.partial, Candidate) else None,
        failed_check=BUDGET,
        error=exc.message,
        calls=tuple(calls),
    )
