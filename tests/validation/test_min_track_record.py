"""The `min_track_record` check: the validation segment must hold at least MinTRL bars for the
Sharpe it shows (Bailey & López de Prado), so a high Sharpe on a short segment is not enough and
a modest one needs a long segment."""

from __future__ import annotations

import numpy as np

from rara.config import ResearchGateSettings
from rara.domain.gate import GateCheck
from rara.validation.checks import floor_checks
from rara.validation.statistics import minimum_track_record_length, return_moments
from tests.kit.gate_reports import metrics


def track_record(returns: np.ndarray, **settings: float) -> GateCheck:
    g = ResearchGateSettings(**settings)
    checks = floor_checks(metrics(2.0, 100), g, returns=returns)
    assert [c.name for c in checks] == [
        "floor.sharpe",
        "floor.max_drawdown",
        "min_trades",
        "min_track_record",
    ]
    return checks[-1]


def returns_with_sharpe(n: int, sharpe: float, seed: int = 5) -> np.ndarray:
    """n normal returns scaled to show exactly this per-bar Sharpe."""
    z = np.random.default_rng(seed).standard_normal(n)
    z = (z - z.mean()) / z.std(ddof=1)
    return 0.01 * (z + sharpe)


def test_a_sharpe_needs_its_bars() -> None:
    r = returns_with_sharpe(2_000, 0.04)  # ~3.7 annualised on 1h bars: MinTRL ~1,700 at 95%
    m = return_moments(r)
    need = minimum_track_record_length(m.sharpe, m.skew, m.kurtosis, confidence=0.95)
    check = track_record(r)
    assert check.passed and check.value == 2_000 and check.threshold == np.ceil(need)
    short = track_record(r[:1_000])  # same kind of returns, half the bars
    assert not short.passed and short.value == 1_000 and short.threshold > 1_000


def test_confidence_is_a_setting() -> None:
    r = returns_with_sharpe(1_200, 0.05)
    assert track_record(r, min_track_record_confidence=0.9).passed
    assert not track_record(r, min_track_record_confidence=0.99).passed


def test_no_length_suffices_for_a_losing_or_flat_sharpe() -> None:
    losing = track_record(returns_with_sharpe(5_000, -0.02))
    assert not losing.passed and losing.value is None and "no length" in (losing.detail or "")
    flat = track_record(np.zeros(500))
    assert not flat.passed and flat.value is None
