"""Time-ordered train / validation / holdout splits and walk-forward windows."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest
from pydantic import ValidationError

from rara.domain.market import parse_utc
from rara.validation.splits import (
    Split,
    WalkForwardWindow,
    split_by_dates,
    split_by_fractions,
    time_split,
    walk_forward,
)

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = parse_utc("2024-01-01")


def hourly(n: int, start: int = T0) -> np.ndarray:
    return start + HOUR * np.arange(n, dtype=np.int64)


def daily(n: int, start: int = T0) -> np.ndarray:
    return start + DAY * np.arange(n, dtype=np.int64)


# --------------------------------------------------------------------------- fractions


def test_default_fractions_are_20_60_20() -> None:
    s = split_by_fractions(hourly(1000))
    assert (s.train, s.validation, s.holdout) == ((0, 200), (200, 800), (800, 1000))
    assert s.train_dates == ("2024-01-01T00:00:00Z", "2024-01-09T07:00:00Z")
    assert s.validation_dates[0] == "2024-01-09T08:00:00Z"
    assert s.holdout_dates[1] == "2024-02-11T15:00:00Z"
    assert s.n_rows == 1000
    assert time_split(hourly(1000)) == s


def test_fraction_split_covers_every_row_in_order() -> None:
    ts = hourly(997)
    s = split_by_fractions(ts, (0.5, 0.3, 0.2))
    assert s.train == (0, 498) and s.validation == (498, 797) and s.holdout == (797, 997)
    parts = [ts[s.train_slice], ts[s.validation_slice], ts[s.holdout_slice]]
    np.testing.assert_array_equal(np.concatenate(parts), ts)
    assert parts[0].max() < parts[1].min() and parts[1].max() < parts[2].min()


def test_fractions_with_float_rounding_still_sum_to_one() -> None:
    s = split_by_fractions(hourly(10), (0.7, 0.1, 0.2))  # 0.7 + 0.1 = 0.7999999999999999
    assert s.train == (0, 7) and s.validation == (7, 8) and s.holdout == (8, 10)


def test_smallest_possible_fraction_split() -> None:
    s = split_by_fractions(hourly(3), (1 / 3, 1 / 3, 1 / 3))
    assert (s.train, s.validation, s.holdout) == ((0, 1), (1, 2), (2, 3))


@pytest.mark.parametrize(
    ("fractions", "message"),
    [
        ((0.6, 0.2, 0.3), "sum to 1"),
        ((0.5, 0.2, 0.2), "sum to 1"),
        ((0.8, 0.2, 0.0), "positive"),
        ((1.2, -0.1, -0.1), "positive"),
        ((0.6, float("nan"), 0.4), "positive"),
        ((0.5, 0.5), "train, validation, holdout"),
    ],
)
def test_bad_fractions(fractions: tuple[float, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        split_by_fractions(hourly(100), fractions)  # type: ignore[arg-type]


def test_fraction_split_with_empty_segment() -> None:
    with pytest.raises(ValueError, match="validation segment would be empty"):
        split_by_fractions(hourly(10), (0.9, 0.05, 0.05))
    with pytest.raises(ValueError, match="at least 3 timestamps"):
        split_by_fractions(hourly(2))


def test_equal_timestamps_never_straddle_a_boundary() -> None:
    ts = np.repeat(hourly(5), 2)  # 10 rows, each timestamp twice
    s = split_by_fractions(ts, (0.5, 0.3, 0.2))  # raw cuts at 5 and 8 fall mid-pair at 5
    assert s.train == (0, 4) and s.validation == (4, 8) and s.holdout == (8, 10)
    assert ts[s.train[1] - 1] < ts[s.validation[0]]
    assert ts[s.validation[1] - 1] < ts[s.holdout[0]]


@pytest.mark.parametrize(
    ("ts", "message"),
    [
        (np.array([3, 2, 1], dtype=np.int64) * HOUR, "sorted ascending"),
        (np.zeros((3, 2), dtype=np.int64), "one-dimensional"),
        (np.array([1.0, 2.0, 3.0]), "integer epoch milliseconds"),
    ],
)
def test_bad_timestamps(ts: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        split_by_fractions(ts)


# --------------------------------------------------------------------------- dates


def test_date_split() -> None:
    ts = daily(366)  # 2024 is a leap year: 2024-01-01 .. 2024-12-31
    s = split_by_dates(ts, "2024-07-01", "2024-10-01")
    assert s.train == (0, 182) and s.validation == (182, 274) and s.holdout == (274, 366)
    assert s.train_dates == ("2024-01-01T00:00:00Z", "2024-06-30T00:00:00Z")
    assert s.validation_dates == ("2024-07-01T00:00:00Z", "2024-09-30T00:00:00Z")
    assert s.holdout_dates == ("2024-10-01T00:00:00Z", "2024-12-31T00:00:00Z")
    assert time_split(ts, validation_start="2024-07-01", holdout_start="2024-10-01") == s


def test_date_split_accepts_datetimes_zones_and_dates() -> None:
    ts = hourly(100)
    a = split_by_dates(ts, "2024-01-02T12:00:00Z", "2024-01-03T12:00")
    b = split_by_dates(ts, datetime(2024, 1, 2, 12, tzinfo=UTC), datetime(2024, 1, 3, 12))
    c = split_by_dates(ts, "2024-01-02T13:00:00+01:00", "2024-01-03T12:00:00+00:00")
    assert a == b == c
    assert a.train == (0, 36) and a.validation == (36, 60) and a.holdout == (60, 100)
    d = split_by_dates(ts, date(2024, 1, 2), date(2024, 1, 4))
    assert d.train == (0, 24) and d.holdout == (72, 100)


def test_date_between_bars_goes_to_the_next_bar() -> None:
    s = split_by_dates(hourly(10), "2024-01-01T02:30:00Z", "2024-01-01T09:00:00Z")
    assert s.train == (0, 3) and s.validation == (3, 9) and s.holdout == (9, 10)


@pytest.mark.parametrize(
    ("validation_start", "holdout_start", "message"),
    [
        ("2024-03-01", "2024-02-01", "must come before holdout_start"),
        ("2024-02-01", "2024-02-01", "must come before holdout_start"),
        ("2023-12-01", "2024-02-01", "validation_start .* outside the data"),
        ("2024-01-01", "2024-02-01", "validation_start .* outside the data"),
        ("2024-02-01", "2024-05-01", "holdout_start .* outside the data"),
        ("not a date", "2024-02-01", "not an ISO 8601"),
        ("2024-01-01T00:30:00Z", "2024-01-01T00:45:00Z", "validation segment would be empty"),
    ],
)
def test_bad_dates(validation_start: str, holdout_start: str, message: str) -> None:
    ts = hourly(24 * 90)  # 2024-01-01 .. 2024-03-30
    with pytest.raises(ValueError, match=message):
        split_by_dates(ts, validation_start, holdout_start)


def test_date_of_the_wrong_type() -> None:
    with pytest.raises(ValueError, match="ISO 8601 string, datetime or date"):
        split_by_dates(hourly(100), 1_704_153_600_000, "2024-01-03")  # type: ignore[arg-type]


def test_time_split_argument_rules() -> None:
    ts = hourly(100)
    with pytest.raises(ValueError, match="both validation_start and holdout_start"):
        time_split(ts, validation_start="2024-01-02")
    with pytest.raises(ValueError, match="not both"):
        time_split(ts, (0.6, 0.2, 0.2), "2024-01-02", "2024-01-03")
    assert time_split(ts, (0.5, 0.25, 0.25)).holdout == (75, 100)


# --------------------------------------------------------------------------- the Split model


def test_split_round_trips_through_json() -> None:
    s = split_by_fractions(hourly(50))
    again = Split.model_validate_json(s.model_dump_json())
    assert again == s
    assert s.model_dump()["validation"] == (10, 40)


@pytest.mark.parametrize(
    ("train", "validation", "holdout", "message"),
    [
        ((0, 5), (6, 8), (8, 10), "contiguous"),
        ((0, 5), (5, 8), (9, 10), "contiguous"),
        ((0, 5), (5, 5), (5, 10), "start < stop"),
        ((-1, 5), (5, 8), (8, 10), "start < stop"),
    ],
)
def test_split_model_rejects_broken_ranges(
    train: tuple[int, int], validation: tuple[int, int], holdout: tuple[int, int], message: str
) -> None:
    d = ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z")
    with pytest.raises(ValidationError, match=message):
        Split(
            train=train,
            validation=validation,
            holdout=holdout,
            train_dates=d,
            validation_dates=d,
            holdout_dates=d,
        )


def test_split_model_is_frozen_and_strict_about_fields() -> None:
    s = split_by_fractions(hourly(50))
    with pytest.raises(ValidationError):
        s.train = (0, 1)  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        Split.model_validate({**s.model_dump(), "surprise": 1})


# --------------------------------------------------------------------------- walk-forward


def test_rolling_walk_forward() -> None:
    w = walk_forward(100, train_size=50, test_size=10)
    assert [(x.train, x.test) for x in w] == [
        ((0, 50), (50, 60)),
        ((10, 60), (60, 70)),
        ((20, 70), (70, 80)),
        ((30, 80), (80, 90)),
        ((40, 90), (90, 100)),
    ]
    assert [x.index for x in w] == [0, 1, 2, 3, 4]
    assert all(isinstance(x, WalkForwardWindow) for x in w)


def test_anchored_walk_forward_grows_train() -> None:
    w = walk_forward(100, train_size=50, test_size=20, anchored=True)
    assert [(x.train, x.test) for x in w] == [((0, 50), (50, 70)), ((0, 70), (70, 90))]


def test_walk_forward_step_gap_and_partial_tail() -> None:
    w = walk_forward(100, train_size=30, test_size=20, step=25, gap=5)
    assert [(x.train, x.test) for x in w] == [((0, 30), (35, 55)), ((25, 55), (60, 80))]
    # Overlapping test windows when step < test_size; the last partial window is dropped.
    w2 = walk_forward(25, train_size=10, test_size=10, step=3)
    assert [x.test for x in w2] == [(10, 20), (13, 23)]


def test_walk_forward_never_leaks() -> None:
    for anchored in (False, True):
        for w in walk_forward(1000, 200, 50, step=37, anchored=anchored, gap=3):
            assert w.train[1] + 3 == w.test[0]
            assert w.test[1] <= 1000 and w.train[1] - w.train[0] >= 200


def test_walk_forward_exact_fit_and_numpy_ints() -> None:
    w = walk_forward(np.int64(60), np.int64(50), np.int64(10))  # type: ignore[arg-type]
    assert len(w) == 1 and w[0].test == (50, 60)
    assert type(w[0].test[0]) is int


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_rows": 59, "train_size": 50, "test_size": 10}, "no walk-forward window fits"),
        ({"n_rows": 60, "train_size": 50, "test_size": 10, "gap": 1}, "no walk-forward window"),
        ({"n_rows": 100, "train_size": 0, "test_size": 10}, "train_size"),
        ({"n_rows": 100, "train_size": 10, "test_size": 0}, "test_size"),
        ({"n_rows": 100, "train_size": 10, "test_size": 10, "step": 0}, "step"),
        ({"n_rows": 100, "train_size": 10, "test_size": 10, "gap": -1}, "gap"),
        ({"n_rows": 100, "train_size": 10.5, "test_size": 10}, "train_size"),
        ({"n_rows": 100, "train_size": True, "test_size": 10}, "train_size"),
        ({"n_rows": 0, "train_size": 1, "test_size": 1}, "n_rows"),
    ],
)
def test_walk_forward_rejects_bad_sizes(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        walk_forward(**kwargs)  # type: ignore[arg-type]


def test_walk_forward_inside_train_and_validation_only() -> None:
    s = split_by_fractions(hourly(1000))
    windows = walk_forward(s.holdout[0], train_size=300, test_size=100)
    assert windows[-1].test[1] <= s.holdout[0] == 800
    assert len(windows) == 5
