"""A deterministic clock for stores that stamp what they write: each call is one step later."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta


def stepping_clock(
    start: datetime = datetime(2024, 5, 1, tzinfo=UTC), step: timedelta = timedelta(milliseconds=1)
) -> Callable[[], datetime]:
    """A clock whose first reading is ``start`` and each next one ``step`` later."""
    state = {"now": start - step}

    def clock() -> datetime:
        state["now"] += step
        return state["now"]

    return clock
