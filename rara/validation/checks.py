"""The research gate's checks, one function per check, each returning its report lines.

Pure: every function takes measured values and settings and says pass or fail; running the
backtests and recording the trials is `rara.validation.gate`'s. The threshold checks are rows of
one table type (`Threshold`): name, value, comparison, threshold, detail.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
import numpy.typing as npt

from rara.backtest.metrics import Metrics
from rara.config import ResearchGateSettings
from rara.domain.gate import CheckName, GateCheck, TrialCount
from rara.domain.market import Instrument, Timeframe
from rara.domain.strategy import StrategyMeta
from rara.validation.candidate import CheckedEvaluation
from rara.validation.lookahead import CheckOutcome
from rara.validation.statistics import minimum_track_record_length, return_moments

__all__ = [
    "HOLDOUT_NOT_READ",
    "Comparison",
    "Threshold",
    "all_passed",
    "cost_check",
    "deflated_sharpe_check",
    "deflated_sharpe_skipped",
    "floor_checks",
    "holdout_checks",
    "holdout_lookahead_check",
    "lookahead_checks",
    "meta_checks",
    "pbo_skipped",
    "sandbox_checks",
]

Comparison = Literal[">", ">=", "<"]
_COMPARE: dict[Comparison, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
}


@dataclass(frozen=True)
class Threshold:
    """One threshold check: `value comparison threshold` passes. A missing value (nothing traded,
    an undefined statistic) is compared as `if_missing`, or fails when that is None."""

    name: CheckName
    value: float | None
    comparison: Comparison
    threshold: float
    detail: str
    if_missing: float | None = None

    def check(self) -> GateCheck:
        measured = self.value if self.value is not None else self.if_missing
        passed = measured is not None and _COMPARE[self.comparison](measured, self.threshold)
        return GateCheck(
            name=self.name,
            passed=passed,
            value=self.value,
            threshold=self.threshold,
            detail=self.detail,
        )


def all_passed(checks: list[GateCheck]) -> bool:
    return all(c.passed for c in checks)


def sandbox_checks(checked: CheckedEvaluation) -> list[GateCheck]:
    if checked.failed:
        err = checked.evaluation.error
        return [
            GateCheck(
                name="sandbox",
                passed=False,
                value=err.code if err else None,
                detail=err.message if err else "no result",
            )
        ]
    return [
        GateCheck(name="sandbox", passed=True, value="ok", detail="signals computed in the sandbox")
    ]


def meta_checks(meta: StrategyMeta, inst: Instrument) -> list[GateCheck]:
    """A strategy is written for one bar length; judged on another, its lookback and thresholds
    mean something else."""
    same = Timeframe.parse(meta.timeframe).ms == inst.timeframe.ms
    return [
        GateCheck(
            name="meta.timeframe",
            passed=same,
            value=meta.timeframe,
            threshold=str(inst.timeframe),
            detail="the timeframe meta() declares is the candles'"
            if same
            else f"meta() declares {meta.timeframe}, the candles are {inst.timeframe}",
        )
    ]


def lookahead_checks(outcomes: tuple[CheckOutcome, ...]) -> list[GateCheck]:
    return [
        GateCheck(
            name=cast(CheckName, f"lookahead.{o.name}"),
            passed=o.passed,
            value=o.first_bar,
            detail=o.detail,
        )
        for o in outcomes
    ]


def floor_checks(
    validation: Metrics, g: ResearchGateSettings, *, returns: npt.NDArray[np.float64]
) -> list[GateCheck]:
    """The seed system's floor, enough trades to mean anything, and enough bars for the Sharpe
    (MinTRL), on the validation segment; ``returns`` are its per-bar returns."""
    rows = [
        Threshold(
            "floor.sharpe",
            validation.sharpe,
            ">",
            g.min_sharpe,
            "validation Sharpe, annualised",
            if_missing=0.0,
        ),
        Threshold(
            "floor.max_drawdown",
            validation.max_drawdown,
            "<",
            g.max_drawdown,
            "validation max drawdown",
        ),
        Threshold(
            "min_trades",
            validation.trades,
            ">=",
            g.min_trades,
            "trades on the validation segment",
        ),
        _track_record(returns, g.min_track_record_confidence),
    ]
    return [r.check() for r in rows]


def _track_record(returns: npt.NDArray[np.float64], confidence: float) -> Threshold:
    """MinTRL (Bailey & López de Prado 2012): the bars a Sharpe this size, with these returns'
    skew and tails, needs before PSR(0) reaches ``confidence``. The validation segment must hold
    at least that many; no length suffices for a Sharpe <= 0 (missing value, fails)."""
    need: float | None = None
    try:
        m = return_moments(returns)
        need = minimum_track_record_length(m.sharpe, m.skew, m.kurtosis, confidence=confidence)
    except ValueError:  # flat equity or too few returns: no Sharpe to need bars for
        pass
    detail = (
        f"validation bars against MinTRL at {confidence:g} confidence (needs {need:,.0f} bars)"
        if need is not None and math.isfinite(need)
        else "validation bars against MinTRL: no length suffices for a Sharpe <= 0"
    )
    ok = need is not None and math.isfinite(need)
    # value: the returns the segment has; threshold: how many this Sharpe needs
    return Threshold(
        "min_track_record",
        float(returns.size) if ok else None,
        ">=",
        math.ceil(need) if ok and need is not None else 0.0,
        detail,
    )


def cost_check(stressed: Metrics, g: ResearchGateSettings) -> list[GateCheck]:
    detail = f"validation return at {g.cost_multiplier:g}x fees and slippage"
    return [Threshold("costs_doubled", stressed.total_return, ">", 0.0, detail).check()]


def deflated_sharpe_check(dsr: float | None, count: TrialCount, min_dsr: float) -> GateCheck:
    used = (
        "the null 1/(T-1)"
        if count.variance_source == "null"
        else "the larger of the clusters' and the null 1/(T-1)"
    )
    detail = (
        f"N = {count.used:g}: {count.effective:g} effectively independent (clusters of "
        f"correlated return series) of {count.raw} trials, floor {count.floor} for trials made "
        f"outside rara; Sharpe variance {count.sharpe_variance:.3g} per period, {used} (null "
        f"{count.null_variance:.3g}, clusters {count.cluster_variance:.3g}); {count.scope}"
    )
    return Threshold("deflated_sharpe", dsr, ">=", min_dsr, detail).check()


def deflated_sharpe_skipped(min_dsr: float, raw: int) -> GateCheck:
    """The DSR is not computed for a candidate already rejected: clustering the trials is paid
    only by candidates that reach it."""
    return GateCheck(
        name="deflated_sharpe",
        passed=True,
        skipped=True,
        threshold=min_dsr,
        detail=f"not computed: earlier checks failed ({raw} validation trials in this home)",
    )


def pbo_skipped(max_pbo: float, detail: str) -> GateCheck:
    return GateCheck(name="pbo", passed=True, skipped=True, threshold=max_pbo, detail=detail)


def holdout_checks(
    hold: Metrics, psr: float | None, signal_reads: int, g: ResearchGateSettings
) -> list[GateCheck]:
    """The holdout's verdict; ``signal_reads`` is how many times these very signals had been
    read on any holdout before."""
    rows = [
        Threshold(
            "holdout.sharpe",
            hold.sharpe,
            ">",
            0.0,
            f"holdout read #{signal_reads + 1} of these signals",
            if_missing=0.0,
        ),
        Threshold(
            "holdout.psr",
            psr,
            ">=",
            g.min_holdout_psr,
            "probabilistic Sharpe ratio against 0 on the holdout",
        ),
    ]
    return [r.check() for r in rows]


def holdout_lookahead_check(cheap: CheckOutcome | None, proof: list[str]) -> GateCheck:
    """Look-ahead first seen at a holdout bar, by the cheap probes or the proof: it rejects like
    any look-ahead, but is judged with the holdout (see `HoldoutCheckName`)."""
    found = ([cheap.detail] if cheap is not None else []) + proof
    return GateCheck(
        name="lookahead.holdout",
        passed=not found,
        value=cheap.first_bar if cheap is not None else None,
        detail="; ".join(found) if found else "no look-ahead or parity failure on holdout bars",
    )


HOLDOUT_NOT_READ = GateCheck(
    name="holdout", passed=False, skipped=True, detail="not read: earlier checks failed"
)
