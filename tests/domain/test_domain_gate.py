"""Property tests of the learning contract: whatever a gate report holds, the `LearningView` made
from it carries no holdout check, segment, read count or decision, and loses nothing else."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from rara.domain.gate import (
    CHECK_NAMES,
    HOLDOUT_CHECKS,
    GateCheck,
    GateReport,
    LearnableCheck,
    LearningView,
    SegmentResult,
)
from rara.domain.performance import Metrics
from tests.kit.gate_reports import metrics as kit_metrics

SECRET = "HOLDOUT-SECRET"  # written into every holdout field; must never reach the view
SECRET_VALUE = 987654.321
SECRET_READS = 424242


def metrics(sharpe: float) -> Metrics:
    return kit_metrics(sharpe, trades=3)


@st.composite
def checks(draw: st.DrawFn) -> GateCheck:
    name = draw(st.sampled_from(CHECK_NAMES))
    if name in HOLDOUT_CHECKS:
        value: Any = draw(st.sampled_from([SECRET_VALUE, f"{SECRET} value", None]))
        detail = f"{SECRET}: holdout read #{draw(st.integers(1, 9))}"
    else:
        value = draw(st.none() | st.floats(-10, 10) | st.booleans() | st.text(max_size=10))
        detail = draw(st.text(alphabet="abcdefg .=<>0123456789", max_size=30))
    return GateCheck(
        name=name,
        passed=draw(st.booleans()),
        value=value,
        threshold=draw(st.none() | st.floats(-5, 5)),
        skipped=draw(st.booleans()),
        detail=detail,
    )


@st.composite
def reports(draw: st.DrawFn) -> GateReport:
    segments: dict[str, SegmentResult] = {}
    for segment in draw(st.sets(st.sampled_from(["train", "validation", "holdout"]))):
        secret = segment == "holdout"
        segments[segment] = SegmentResult(
            segment=segment,
            trial_id=f"tr_{SECRET}" if secret else f"tr_{segment}",
            new_trial=draw(st.booleans()),
            metrics=metrics(SECRET_VALUE if secret else draw(st.floats(-3, 3))),
        )
    listed = draw(st.lists(checks(), max_size=16))
    failed = draw(st.lists(st.sampled_from(CHECK_NAMES), max_size=6))
    return GateReport(
        strategy=draw(st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)),
        strategy_id=draw(st.none() | st.just("st_0123456789abcdef")),
        instrument="binance:BTC/USDT:1h",
        passed=draw(st.booleans()),
        decision=draw(st.sampled_from(["paper_candidate", "rejected"])),
        failed=failed,
        checks=listed,
        segments=segments,
        split=draw(st.none() | st.just({"holdout": [900, 1000], "note": SECRET})),
        n_trials=draw(st.integers(0, 1000)),
        holdout_reads=SECRET_READS,
    )


@given(reports())
def test_the_learning_view_never_carries_the_holdout(report: GateReport) -> None:
    view = LearningView.of(report)
    assert not any(c.name in HOLDOUT_CHECKS for c in view.checks)
    assert not any(name in HOLDOUT_CHECKS for name in view.failed)
    text = view.model_dump_json()
    for secret in (SECRET, str(SECRET_VALUE), str(SECRET_READS)):
        assert secret not in text


@given(reports())
def test_the_learning_view_keeps_everything_else(report: GateReport) -> None:
    view = LearningView.of(report)
    assert [c.model_dump() for c in view.checks] == [
        c.model_dump() for c in report.checks if c.name not in HOLDOUT_CHECKS
    ]
    assert view.failed == [n for n in report.failed if n not in HOLDOUT_CHECKS]
    assert view.train == report.segments.get("train")
    assert view.validation == report.segments.get("validation")
    assert (view.strategy, view.strategy_id, view.instrument, view.n_trials) == (
        report.strategy,
        report.strategy_id,
        report.instrument,
        report.n_trials,
    )
    assert view.passed_before_holdout == (not view.failed)


def test_the_view_has_no_field_that_could_hold_the_holdout() -> None:
    fields = set(LearningView.model_fields)
    assert not {f for f in fields if "holdout" in f or f in {"decision", "passed", "split"}}
    assert "segments" not in fields  # a mapping could hold any segment; the view names two


@pytest.mark.parametrize("name", sorted(HOLDOUT_CHECKS))
def test_a_learnable_check_refuses_holdout_names(name: str) -> None:
    with pytest.raises(ValidationError):
        LearnableCheck(name=name, passed=True)  # type: ignore[arg-type]


def test_a_view_refuses_a_holdout_field_smuggled_in() -> None:
    base = LearningView.of(
        GateReport(
            strategy="s",
            strategy_id=None,
            instrument="binance:BTC/USDT:1h",
            passed=False,
            decision="rejected",
            failed=[],
            checks=[],
            segments={},
            split=None,
            n_trials=0,
            holdout_reads=0,
        )
    ).model_dump()
    with pytest.raises(ValidationError):
        LearningView.model_validate({**base, "holdout": {"sharpe": 1.0}})
