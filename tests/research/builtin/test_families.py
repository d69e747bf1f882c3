"""The families issue 9 added to the built-in search: time-series momentum that can state the
planted edge's own rule, and calendar windows (hour of day, day of week) on the timestamps the
strategy sees. Each is run in the real sandbox runtime on synthetic candles and compared with the
rule written out by hand here."""

from __future__ import annotations

import numpy as np
import pytest

from rara.data.synth import generate, momentum_signal
from rara.domain.market import Candles
from rara.research.builtin.catalogue import CATALOGUE
from rara.research.builtin.family import family
from rara.research.builtin.space import Bias, Param
from rara.runner.sandbox import candle_columns
from rara.validation.candidate import CheckedEvaluation
from rara_sandbox.evaluate import evaluate
from rara_sandbox.lint import lint

HOUR_MS = 3_600_000


@pytest.fixture(scope="module")
def planted() -> Candles:
    return generate(3_000, "1h", seed=7, edge="momentum", edge_strength=0.1).candles


def signals(name: str, params: dict[str, int | float], candles: Candles) -> CheckedEvaluation:
    fam = family(name)
    assert fam is not None
    source = fam.render(dict(params), "1h")
    assert lint(source).ok
    checked = CheckedEvaluation.of(source, evaluate(source, candle_columns(candles)))
    assert not checked.failed, checked.sandbox_error()
    return checked


def test_the_new_families_are_arms_of_the_search() -> None:
    assert {"tsmom", "hour_window", "weekday_window"} <= set(CATALOGUE)


def test_tsmom_at_threshold_zero_is_the_planted_rule(planted: Candles) -> None:
    checked = signals("tsmom", {"period": 24, "threshold": 0.0}, planted)
    full = checked.evaluation.windows[-1]
    rule = momentum_signal(planted.close, 24) > 0  # in the market while close > close 24 ago
    start = 24 + 1  # the volatility scale needs 24 returns, i.e. 25 closes
    assert np.array_equal(full.entries[start:], rule[start:])
    assert np.array_equal(full.exits[start:], ~rule[start:])
    assert not full.entries[:start].any()
    assert all(o.passed for o in checked.lookahead), checked.lookahead


def test_tsmom_threshold_grid_starts_at_zero_and_draws_it_often() -> None:
    fam = family("tsmom")
    assert fam is not None
    period, threshold = fam.base.params
    assert period.contains(24) and threshold.lo == 0.0
    rng = np.random.default_rng(3)
    draws = [fam.sample(rng, Bias(p_stop=0.0), 1000) for _ in range(400)]
    zero = sum(d["threshold"] == 0.0 for d in draws) / len(draws)
    near = sum(18 <= int(d["period"]) <= 32 for d in draws) / len(draws)
    # a fresh draw is the planted rule's neighbourhood often enough for 200 candidates to meet it
    assert zero > 0.08 and near > 0.08
    assert fam.accepts({"period": 24, "threshold": 0.0})


@pytest.mark.parametrize(("start", "hours"), [(9, 3), (22, 4)])
def test_hour_window_holds_the_bars_opening_in_the_window(
    planted: Candles, start: int, hours: int
) -> None:
    checked = signals("hour_window", {"start_hour": start, "hours": hours}, planted)
    full = checked.evaluation.windows[-1]
    # a signal on bar t is held over bar t+1: the bars held are those after an entry bar
    held_hour = (planted.ts[1:] // HOUR_MS) % 24
    want = (held_hour - start) % 24 < hours
    assert np.array_equal(full.entries[:-1], want)
    assert np.array_equal(full.exits[:-1], ~want)
    assert all(o.passed for o in checked.lookahead), checked.lookahead


def test_weekday_window_wraps_around_sunday(planted: Candles) -> None:
    checked = signals("weekday_window", {"start_day": 5, "days": 3}, planted)  # Sat, Sun, Mon
    full = checked.evaluation.windows[-1]
    weekday = (planted.ts[1:] // (24 * HOUR_MS) + 3) % 7  # 1970-01-01 was a Thursday
    want = np.isin(weekday, (5, 6, 0))
    assert np.array_equal(full.entries[:-1], want)
    assert all(o.passed for o in checked.lookahead), checked.lookahead


def test_clock_params_are_drawn_uniformly_and_step_locally() -> None:
    p = Param("start_hour", "int", 0, 23, linear=True)
    rng = np.random.default_rng(11)
    draws = [int(p.sample(rng)) for _ in range(2400)]
    counts = np.bincount(draws, minlength=24)
    assert counts.min() > 50  # every hour, 0 included (a log draw cannot reach 0)
    steps = [abs(int(p.mutate(12, rng)) - 12) for _ in range(200)]
    assert 0 < np.median(steps) <= 6 and max(steps) <= 11


def test_calendar_text_names_the_window() -> None:
    hours = family("hour_window")
    days = family("weekday_window")
    assert hours is not None and days is not None
    assert "22:00 UTC for 4 hours" in hours.hypothesis({"start_hour": 22, "hours": 4}, "1h", "X")
    assert "Saturday for 2 days" in days.hypothesis({"start_day": 5, "days": 2}, "1h", "X")
