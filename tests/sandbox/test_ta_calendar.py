"""`ta.hour_of_day` and `ta.day_of_week`: UTC clock positions of bar timestamps, reachable from
strategy code."""

from __future__ import annotations

import numpy as np
import pytest

from rara_sandbox.ta import API
from rara_sandbox.ta.calendar import day_of_week, hour_of_day

MONDAY = 1_704_067_200_000  # 2024-01-01T00:00:00Z
HOUR = 3_600_000


def test_hours_and_weekdays_from_epoch_ms() -> None:
    ts = np.array([MONDAY + k * HOUR for k in (0, 1, 23, 24, 24 * 6 + 5, 24 * 7)], dtype=np.int64)
    assert hour_of_day(ts).tolist() == [0.0, 1.0, 23.0, 0.0, 5.0, 0.0]
    assert day_of_week(ts).tolist() == [0.0, 0.0, 0.0, 1.0, 6.0, 0.0]
    assert hour_of_day(ts).dtype == np.float64
    # before 1970 too: floor division keeps the weekday cycle
    assert day_of_week(np.array([-86_400_000], dtype=np.int64)).tolist() == [2.0]  # Wednesday


def test_exposed_to_strategies() -> None:
    assert API["hour_of_day"] is hour_of_day and API["day_of_week"] is day_of_week


@pytest.mark.parametrize("bad", [np.array([1.5e12]), np.array([[MONDAY]]), [True, False]])
def test_refuses_what_is_not_epoch_ms(bad: object) -> None:
    with pytest.raises(ValueError, match="timestamps"):
        hour_of_day(bad)
