"""Gate reports built by hand, for tests of what a proposer learns from: every figure is chosen,
so a test can look for one (a holdout Sharpe of 7.654321 appears nowhere by chance)."""

from __future__ import annotations

from typing import Any

from rara.domain.gate import (
    HOLDOUT_CHECKS,
    GateCheck,
    GateReport,
    LearningView,
    Segment,
    SegmentResult,
)
from rara.domain.performance import BenchmarkMetrics, Metrics

HOLDOUT_SHARPE = 7.654321
HOLDOUT_PSR = 0.987654
HOLDOUT_TRADES = 987_131
HOLDOUT_TRIAL = "trial-holdout-5e1f0a"
# what would show if any holdout figure got through (as text: JSON, prompts, insights)
HOLDOUT_MARKS = ("7.654321", "0.987654", "987131", HOLDOUT_TRIAL, "holdout")


def metrics(sharpe: float | None, trades: int, max_drawdown: float = 0.1) -> Metrics:
    return Metrics(
        bars=1000,
        start="2024-01-01T00:00:00Z",
        end="2024-02-11T15:00:00Z",
        years=0.114,
        bars_per_day=24.0,
        init_cash=10_000.0,
        final_equity=10_100.0,
        total_return=0.01,
        cagr=0.09,
        sharpe=sharpe,
        sortino=None,
        calmar=None,
        max_drawdown=max_drawdown,
        max_drawdown_bars=40,
        max_drawdown_days=1.7,
        trades=trades,
        win_rate=0.5,
        profit_factor=1.1,
        avg_trade_return=0.001,
        exposure=0.4,
        turnover=3.0,
        fees_paid=12.0,
        open_at_end=False,
        benchmark=BenchmarkMetrics(
            total_return=0.02,
            cagr=0.2,
            sharpe=0.6,
            sortino=None,
            max_drawdown=0.2,
            final_equity=10_200.0,
        ),
    )


def segment(name: Segment, sharpe: float | None, trades: int) -> SegmentResult:
    trial = HOLDOUT_TRIAL if name == "holdout" else f"trial-{name}"
    return SegmentResult(
        segment=name, trial_id=trial, new_trial=True, metrics=metrics(sharpe, trades)
    )


def report(checks: list[dict[str, Any]], *, sharpe: float = 0.4, trades: int = 12) -> GateReport:
    """A report with these checks, train and validation segments, and a holdout segment when a
    holdout check is among them (then read once, as the gate does)."""
    parsed = [GateCheck.model_validate(c) for c in checks]
    failed = [c.name for c in parsed if not c.passed and not c.skipped]
    segments = {
        "train": segment("train", 1.3, 50),
        "validation": segment("validation", sharpe, trades),
    }
    holdout = any(c.name.startswith("holdout") for c in parsed)
    if holdout:
        segments["holdout"] = segment("holdout", HOLDOUT_SHARPE, HOLDOUT_TRADES)
    return GateReport(
        strategy="s",
        strategy_id="sid",
        instrument="binance:BTC/USDT:1h",
        passed=not failed,
        decision="rejected" if failed else "paper_candidate",
        failed=failed,
        checks=parsed,
        segments=segments,
        split={"holdout_start": "2024-02-01"} if holdout else None,
        n_trials=3,
        holdout_reads=int(holdout),
    )


def view(checks: list[dict[str, Any]], **kw: Any) -> LearningView:
    return LearningView.of(report(checks, **kw))


def holdout_checks(passed: bool) -> list[dict[str, Any]]:
    """The holdout's own checks, passed or failed, with its figures as values."""
    return [
        {
            "name": "holdout.sharpe",
            "passed": passed,
            "value": HOLDOUT_SHARPE if passed else -HOLDOUT_SHARPE,
            "threshold": 0.0,
            "detail": f"holdout Sharpe {HOLDOUT_SHARPE}",
        },
        {"name": "holdout.psr", "passed": passed, "value": HOLDOUT_PSR, "threshold": 0.9},
    ]


def with_holdout(report: GateReport, passed: bool) -> GateReport:
    """The report as if the holdout had then been read (in place of any real read): its checks
    (passed or failed, with its figures), its segment and the read count, and the decision."""
    kept = [c for c in report.checks if c.name not in HOLDOUT_CHECKS]
    checks = [*kept, *(GateCheck.model_validate(c) for c in holdout_checks(passed))]
    failed = [c.name for c in checks if not c.passed and not c.skipped]
    return report.model_copy(
        update={
            "checks": checks,
            "failed": failed,
            "passed": not failed,
            "decision": "rejected" if failed else "paper_candidate",
            "segments": {
                **report.segments,
                "holdout": segment("holdout", HOLDOUT_SHARPE, HOLDOUT_TRADES),
            },
            "holdout_reads": max(report.holdout_reads, 1),
        }
    )
