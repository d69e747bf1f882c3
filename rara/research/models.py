"""Types that cross the research loop's boundaries: proposals, lessons, outcomes, LLM calls.

Pure pydantic, no I/O. Proposers (built-in search, LLM, replay) produce `Candidate`s from a
`ProposerContext`; the loop turns each into an `ExperimentOutcome` and a `Lesson`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

JsonScalar = bool | int | float | str
Outcome = Literal["paper_candidate", "rejected", "error", "duplicate"]
Regime = Literal["trend_up", "trend_down", "range", "high_volatility"]


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


class LlmCall(BaseModel):
    """One LLM round trip, for accounting. Never holds keys or prompt text."""

    purpose: Literal["propose", "code", "fix", "feedback", "agent"]
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    cost_usd: float = 0.0
    cached: bool = False
    ok: bool = True
    error: str | None = None


class Lesson(BaseModel):
    """What one finished experiment taught; recalled before later proposals."""

    experiment_id: str
    run_id: str
    hypothesis: str
    family: str
    symbol: str
    timeframe: str
    regime: Regime
    outcome: Outcome
    failed_check: str | None = None
    validation_sharpe: float | None = None
    insight: str
    created_at: str = ""


class ExperimentOutcome(BaseModel):
    """One finished experiment, as proposers see it: train and validation numbers only, never
    holdout."""

    experiment_id: str
    iteration: int
    family: str
    origin: str
    params: dict[str, JsonScalar] | None
    source_sha256: str
    outcome: Outcome
    failed_check: str | None = None
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
