"""Gate vocabulary: check names, the gate report, and the view of it research may learn from.

The report is what the research gate (`rara.validation.gate`) decides for one candidate. It
crosses into research (learning), events, the registry (provenance), the gRPC server and the TUI,
so it lives here, typed. The holdout is read once, at the decision; `LearningView` is the report
without any holdout field, by construction, and it is the only thing a proposer is handed.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict

from rara.domain.performance import Metrics

# Every check but the holdout's: what a proposer may see fail.
LearnableCheckName = Literal[
    "sandbox",
    "meta.timeframe",
    "lookahead.truncation",
    "lookahead.perturbation",
    "lookahead.warmup",
    "lookahead.exhaustive",
    "lookahead.trailing_window",
    "determinism",
    "floor.sharpe",
    "floor.max_drawdown",
    "min_trades",
    "min_track_record",
    "costs_doubled",
    "deflated_sharpe",
    "pbo",
]
# "lookahead.holdout": a look-ahead or parity failure first seen at a holdout bar. It is judged
# with the holdout, unseen by proposers, since for an honest strategy whether it happens there
# depends on the holdout's bars.
HoldoutCheckName = Literal[
    "holdout", "lookahead.holdout", "holdout.budget", "holdout.sharpe", "holdout.psr"
]
CheckName = LearnableCheckName | HoldoutCheckName
CHECK_NAMES: tuple[CheckName, ...] = (*get_args(LearnableCheckName), *get_args(HoldoutCheckName))
HOLDOUT_CHECKS: frozenset[str] = frozenset(get_args(HoldoutCheckName))
# what a summary or tear sheet shows in place of a holdout check's value: it is never shown
WITHHELD = "withheld"
Segment = Literal["train", "validation", "holdout"]
GateDecision = Literal["paper_candidate", "rejected"]
CheckValue = float | bool | str | None
VarianceSource = Literal["null", "clusters"]


class GateCheck(BaseModel):
    """One line of the report: the value measured, the threshold, and whether it passed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: CheckName
    passed: bool
    value: CheckValue = None
    threshold: float | str | None = None
    skipped: bool = False
    detail: str = ""


class LearnableCheck(GateCheck):
    """A check a proposer may see: any but the holdout's (the type refuses those names)."""

    name: LearnableCheckName


class SegmentResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    segment: Segment
    trial_id: str
    new_trial: bool
    metrics: Metrics


class TrialCount(BaseModel):
    """The multiple-testing count behind the deflated Sharpe ratio: how many trials competed for
    this promotion (raw), how many were effectively independent (clusters of the trials' return
    series), the floor for trials made outside rara, and the N and Sharpe variance the DSR used:
    the null's (what luck scatters a zero-edge trial's Sharpe by) or the clusters' (stricter: it
    also holds the real differences between strategies), both reported, per period."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    raw: int
    effective: float
    floor: int
    used: float
    sharpe_variance: float
    cluster_variance: float = 0.0
    null_variance: float = 0.0
    variance_source: VarianceSource = "null"
    scope: str = ""


class WeakenedThreshold(BaseModel):
    """A gate setting loosened below its default: recorded wherever the verdict goes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    setting: str
    value: float | str | None
    default: float | str | None


class GateReport(BaseModel):
    """The whole verdict on one candidate, every check's value included."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: str
    strategy_id: str | None
    instrument: str
    passed: bool
    decision: GateDecision
    failed: list[CheckName]
    checks: list[GateCheck]
    segments: dict[Segment, SegmentResult]
    split: dict[str, Any] | None
    n_trials: int
    holdout_reads: int
    trial_count: TrialCount | None = None
    weakened: list[WeakenedThreshold] = []
    signals_sha256: str | None = None

    def summary(self) -> str:
        return f"{self.strategy}: {self.decision}" + (
            f" (failed: {', '.join(self.failed)})" if self.failed else ""
        )

    def check(self, name: CheckName) -> GateCheck | None:
        return next((c for c in self.checks if c.name == name), None)


class LearningView(BaseModel):
    """The gate report minus the holdout: no holdout check, segment, read count or decision
    (a decision taken after the holdout was read would tell its outcome)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: str
    strategy_id: str | None
    instrument: str
    failed: list[LearnableCheckName]
    checks: list[LearnableCheck]
    train: SegmentResult | None
    validation: SegmentResult | None
    n_trials: int
    trial_count: TrialCount | None = None

    @classmethod
    def of(cls, report: GateReport) -> LearningView:
        learnable = [c for c in report.checks if c.name not in HOLDOUT_CHECKS]
        return cls(
            strategy=report.strategy,
            strategy_id=report.strategy_id,
            instrument=report.instrument,
            failed=[n for n in report.failed if n not in HOLDOUT_CHECKS],
            checks=[LearnableCheck.model_validate(c.model_dump()) for c in learnable],
            train=report.segments.get("train"),
            validation=report.segments.get("validation"),
            n_trials=report.n_trials,
            trial_count=report.trial_count,
        )

    @property
    def passed_before_holdout(self) -> bool:
        """Every learnable check passed (what the holdout was then read for)."""
        return not self.failed

    def check(self, name: LearnableCheckName) -> LearnableCheck | None:
        return next((c for c in self.checks if c.name == name), None)
