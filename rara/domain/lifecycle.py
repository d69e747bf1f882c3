"""A strategy's lifecycle: the stages it moves through, the moves allowed between them, and the
report of gate 2 (paper -> live candidate). Types only; `rara.feedback.lifecycle` projects the
stages from the event log and appends the moves.

    research -> paper_candidate (gate 1) -> paper -> live_candidate (gate 2) -> live (a person
    approves) -> retired

A move is one event (`rara.domain.events`): ``feedback_strategy_promote`` up a stage,
``feedback_strategy_demote`` down or to retired, ``feedback_strategy_confirmed`` when a person
approved (live always needs one), ``feedback_strategy_hold`` when gate 2 or feedback judged and
kept it where it is. The first stage comes from research (``research_strategy_candidate``) or
from an install (issue 16).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Stage = Literal["research", "paper_candidate", "paper", "live_candidate", "live", "retired"]
STAGES: tuple[Stage, ...] = (
    "research",
    "paper_candidate",
    "paper",
    "live_candidate",
    "live",
    "retired",
)
MoveKind = Literal["promote", "demote", "confirm"]

# (from, to) -> the kind of event that makes the move. Anything else is refused.
MOVES: dict[tuple[Stage, Stage], MoveKind] = {
    ("research", "paper_candidate"): "promote",  # gate 1 on local data (an install)
    ("paper_candidate", "paper"): "promote",  # the daemon starts paper trading it
    ("paper", "live_candidate"): "promote",  # gate 2 passed
    ("live_candidate", "live"): "confirm",  # a person approved (or auto_approve, explicitly)
    ("paper", "paper_candidate"): "demote",  # paper stopped (cap reached, engine crash)
    ("live_candidate", "paper"): "demote",
    ("live", "paper"): "demote",  # live results fell below the backtest's
    **{(s, "retired"): "demote" for s in STAGES if s != "retired"},
}
# stages that trade: paper on the paper venue, live on an approved account
TRADING_STAGES: tuple[Stage, ...] = ("paper", "live")


def move_kind(from_stage: Stage, to_stage: Stage) -> MoveKind | None:
    """The kind of event that moves a strategy from one stage to the other; None: not allowed."""
    return MOVES.get((from_stage, to_stage))


class Gate2Check(BaseModel):
    """One line of gate 2's report: what was measured, the limit, and whether it passed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Literal[
        "paper_days",
        "paper_trades",
        "paper_sharpe",
        "paper_drawdown",
        "tracking_error",
        "parity",
    ]
    passed: bool
    value: float | None
    threshold: float | None
    detail: str = ""


class Gate2Report(BaseModel):
    """Gate 2's verdict on one paper run: every check with its value and threshold, over the
    bars the run traded (``first_bar_ms`` .. ``last_bar_ms``), like gate 1's report."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy_id: str = Field(min_length=1)
    run_id: str = Field(description="the paper run judged")
    instrument: str
    first_bar_ms: int | None
    last_bar_ms: int | None
    bars: int = Field(ge=0)
    passed: bool
    failed: list[str]
    checks: list[Gate2Check]
