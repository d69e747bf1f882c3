"""Fixtures for the event-log tests.

``rara_home`` (autouse: RARA_HOME is a fresh tmp dir per test) and ``cli`` (runs `rara ...` in a
fresh interpreter) come from ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rara.events import EventStore, open_event_store


def stepping_clock(
    start: datetime = datetime(2024, 5, 1, tzinfo=UTC), step: timedelta = timedelta(milliseconds=1)
) -> Callable[[], datetime]:
    """A deterministic clock: each call is one step later than the last."""
    state = {"now": start - step}

    def clock() -> datetime:
        state["now"] += step
        return state["now"]

    return clock


@pytest.fixture
def db_path(rara_home: Path) -> Path:
    return rara_home / "rara.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[EventStore]:
    s = open_event_store(clock=stepping_clock())
    assert s.path == db_path  # the default location follows RARA_HOME
    yield s
    s.close()


@pytest.fixture
def make_clock() -> Callable[..., Callable[[], datetime]]:
    return stepping_clock
