"""Small pure pieces of the loop: the live progress line and what makes two candidates
duplicates. (What the loop may learn from a gate report is `rara.domain.gate.LearningView`.)"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

DUPLICATE_CORRELATION = 0.95


@dataclass
class Progress:
    """The live line: tried / rejected by reason / promoted / cost."""

    tried: int = 0
    promoted: int = 0
    duplicates: int = 0
    errors: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    cost_usd: float = 0.0

    def count(self, outcome: str, failed_check: str | None, cost_usd: float) -> None:
        """Add one finished experiment."""
        self.tried += 1
        self.cost_usd += cost_usd
        if outcome == "paper_candidate":
            self.promoted += 1
        elif outcome == "duplicate":
            self.duplicates += 1
        elif outcome == "error":
            self.errors += 1
        else:
            reason = failed_check or "unknown"
            self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def line(self) -> str:
        top = sorted(self.rejected.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        why = ", ".join(f"{k} {v}" for k, v in top) or "none"
        return (
            f"tried {self.tried} | promoted {self.promoted} | rejected: {why} | "
            f"duplicates {self.duplicates} | errors {self.errors} | ${self.cost_usd:.4f}"
        )


def positions(
    entries: npt.NDArray[np.bool_], exits: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    """In-market after each bar's signals (long-only, one position): what duplicates compare."""
    state = np.where(entries & ~exits, 1, np.where(exits & ~entries, 0, -1))
    idx = np.where(state >= 0, np.arange(state.size), -1)
    last = np.maximum.accumulate(idx)
    return np.where(last >= 0, state[np.maximum(last, 0)], 0).astype(bool)


def correlation(a: npt.NDArray[np.bool_], b: npt.NDArray[np.bool_]) -> float:
    if np.array_equal(a, b):
        return 1.0
    x, y = a.astype(np.float64), b.astype(np.float64)
    if x.std() == 0 or y.std() == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def duplicate_of(
    pos: npt.NDArray[np.bool_],
    earlier: Iterable[tuple[str, npt.NDArray[np.bool_]]],
    bars: int | None = None,
) -> str | None:
    """The first earlier experiment whose in-market series correlates with `pos` at or above
    `DUPLICATE_CORRELATION`, if any, compared on the first `bars` bars (all when None). The loop
    passes the holdout's start: a duplicate is a verdict a proposer learns from, so it must not
    depend on the holdout's bars. The loop asks `rara.research.duplicates.DuplicateIndex`, which
    gives this verdict in one vectorised pass; this pairwise form is its reference."""
    mine = pos[:bars]
    for experiment_id, other in earlier:
        if correlation(mine, other[:bars]) >= DUPLICATE_CORRELATION:
            return experiment_id
    return None
