"""Types that cross the research loop's boundaries: proposals, lessons, outcomes, LLM calls.

Pure pydantic, no I/O. Proposers (built-in search, LLM, replay) produce `Candidate`s from a
`ProposerContext`; the loop turns each into an `ExperimentOutcome` and a `Lesson`. Both carry the
failing gate check as a `CheckName` and the validation trade count as numbers, so a proposer reads
what failed from fields, never from the prose of an insight.

Two outcome vocabularies: `Outcome` is the real decision (the experiment row, events, `research
show`); `LearnableOutcome` is what a proposer or a lesson is told, a function of the checks before
the holdout alone (`learnable_outcome`): a candidate the holdout rejected and one it promoted are
both ``passed_checks`` there.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from rara.domain.events import StopReason as StopReason  # why a run ended; re-exported
from rara.domain.gate import HOLDOUT_CHECKS, LearnableCheckName
from rara.llm.ports import LlmCall as LlmCall  # the LLM port's accounting; re-exported

JsonScalar = bool | int | float | str
Outcome = Literal["paper_candidate", "rejected", "error", "duplicate"]
# What the learning side is told: "passed_checks" = every check before the holdout passed, whatever
# the holdout then said; "rejected" = a check before the holdout failed.
LearnableOutcome = Literal["passed_checks", "rejected", "error", "duplicate"]
PASSED_CHECKS: LearnableOutcome = "passed_checks"
Regime = Literal["trend_up", "trend_down", "range", "high_volatility"]

# ---- where a candidate came from ---------------------------------------------------------------
# Stored and published as text: ``builtin:<move>``, ``llm``, ``llm:fix<round>`` (a repair keeps
# its proposer's name). These build it, so the spelling lives here; a stub proposer may pass any.
BuiltinMove = Literal["explore", "mutate", "recombine", "wrap"]
LLM_ORIGIN = "llm"
NO_ORIGIN = "none"  # an experiment whose proposer gave no candidate


def builtin_origin(move: BuiltinMove) -> str:
    return f"builtin:{move}"


def fix_origin(proposer: str, round_no: int) -> str:
    """The origin of a candidate repaired in fix round `round_no` (1-based)."""
    return f"{proposer}:fix{round_no}"


# ---- why an iteration stopped short of the gate ------------------------------------------------
# The loop records why an iteration stopped as one word, ``failed_check``: a gate check's name
# (`rara.domain.gate.CheckName`), or one of these stops that are no gate check.
LoopStop = Literal["duplicate", "budget"]
DUPLICATE: LoopStop = "duplicate"  # its in-market series repeats an earlier candidate's
BUDGET: LoopStop = "budget"  # the LLM cost limit was crossed during it
PROPOSER_PREFIX = "proposer."  # ``proposer.<ProposerError code>``: the proposer gave nothing
SANDBOX_PREFIX = "sandbox."  # ``sandbox.<error code>``: the sandbox check, failed with that code


def proposer_failure(code: str) -> str:
    return f"{PROPOSER_PREFIX}{code}"


def sandbox_failure(code: str | None) -> str:
    return f"{SANDBOX_PREFIX}{code}"


_LEARNABLE: dict[str, LearnableCheckName] = {n: n for n in get_args(LearnableCheckName)}


def experiment_id(run_id: str, iteration: int) -> str:
    """The id of a run's iteration: the one place its format is spelled."""
    return f"{run_id}-{iteration:04d}"


def learnable_failure(failure: str | None) -> str | None:
    """A recorded failure as a proposer may see it: a holdout check's name says how the holdout
    went, so it becomes None (the outcome says rejected, no more)."""
    return None if failure in HOLDOUT_CHECKS else failure


def learnable_outcome(outcome: Outcome, failure: str | None) -> LearnableOutcome:
    """An experiment's outcome as a proposer or a lesson may see it, from the real outcome and the
    recorded failure (the first failed check). The gate's checks run in order and the holdout's
    come last, so a rejection whose first failure is a holdout check passed every check before it:
    like a promotion, it is ``passed_checks``."""
    if outcome == "paper_candidate" or (outcome == "rejected" and failure in HOLDOUT_CHECKS):
        return PASSED_CHECKS
    return outcome


def gate_check_of(failure: str | None) -> LearnableCheckName | None:
    """The gate check a recorded failure stands for, as a proposer may see it. The loop records
    why an iteration stopped as a reason word: a gate check's name, `sandbox_failure` (the sandbox
    check), or a stop that is no check (`proposer_failure`, `LoopStop`): None. A holdout check is
    None too (see `learnable_failure`)."""
    if failure is None:
        return None
    check = _LEARNABLE.get(failure)
    if check is None and failure.startswith(SANDBOX_PREFIX):
        check = "sandbox"
    return check


class Forecast(BaseModel):
    """The proposer's own prediction, scored once the outcome is known (calibration)."""

    model_config = ConfigDict(extra="forbid")
    validation_sharpe: float | None = None
    pass_probability: float | None = Field(None, ge=0.0, le=1.0)


class Hypothesis(BaseModel):
    """What the propose step says, before any code: a structured, checkable idea."""

    model_config = ConfigDict(extra="forbid")
    hypothesis: str = Field(min_length=1, max_length=2000)
    rationale: str = Field(min_length=1, max_length=4000)
    family: str = Field(min_length=1, max_length=64)
    forecast: Forecast = Field(default_factory=Forecast)


class Candidate(BaseModel):
    """A hypothesis made concrete: one strategy module (Strategy API v1) and its params."""

    hypothesis: Hypothesis
    source: str
    params: dict[str, JsonScalar] | None = None
    origin: str = Field(description="e.g. builtin:explore, builtin:mutate, llm, llm:fix2")
    parent: str | None = Field(None, description="experiment id this was derived from")


class Proposal(BaseModel):
    """What `propose` and `fix` return: the candidate and the LLM calls it took (none for the
    built-in search), so the spend travels with what it bought."""

    model_config = ConfigDict(frozen=True)
    candidate: Candidate
    calls: list[LlmCall] = Field(default_factory=list)


class Reflection(BaseModel):
    """What `reflect` returns: the one-line insight and the LLM calls it took."""

    model_config = ConfigDict(frozen=True)
    insight: str
    calls: list[LlmCall] = Field(default_factory=list)


class Lesson(BaseModel):
    """What one finished experiment taught; recalled before later proposals. ``outcome`` is the
    learnable one (`learnable_outcome`), never the decision taken on the holdout. ``insight`` is
    prose for people and the LLM; the proposer reads the structured fields: ``failed_check`` (the
    gate check that failed first, None when none did, the stop was no check or it was the
    holdout's), ``failure`` (the reason as the loop recorded it, e.g. ``sandbox.lint_failed``,
    ``proposer.llm_timeout``; never a holdout check) and the validation figures."""

    experiment_id: str
    run_id: str
    iteration: int
    hypothesis: str
    family: str
    symbol: str
    timeframe: str
    regime: Regime
    outcome: LearnableOutcome
    failed_check: LearnableCheckName | None = None
    failure: str | None = None
    validation_sharpe: float | None = None
    validation_trades: int | None = None
    insight: str
    created_at: str = ""


class ExperimentOutcome(BaseModel):
    """One finished experiment, as proposers see it: train and validation numbers and the
    learnable outcome only, never the holdout (nor the decision taken on it)."""

    experiment_id: str
    iteration: int
    family: str
    origin: str
    params: dict[str, JsonScalar] | None
    source_sha256: str
    outcome: LearnableOutcome
    failed_check: LearnableCheckName | None = None
    failure: str | None = None
    train_sharpe: float | None = None
    validation_sharpe: float | None = None
    validation_trades: int | None = None


class BestSoFar(BaseModel):
    """The best candidate of the run by validation Sharpe (never by holdout)."""

    experiment_id: str
    family: str
    source: str
    params: dict[str, JsonScalar] | None
    validation_sharpe: float


class ProposerContext(BaseModel):
    run_id: str
    iteration: int
    seed: int
    exchange: str
    symbol: str
    timeframe: str
    regime: Regime
    lessons: list[Lesson] = Field(default_factory=list)
    history: list[ExperimentOutcome] = Field(default_factory=list)
    best: BestSoFar | None = None
