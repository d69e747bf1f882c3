"""Fixtures for the event-log tests.

``rara_home`` (autouse: RARA_HOME is a fresh tmp dir per test) and ``cli`` (runs `rara ...` in a
fresh interpreter) come from ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from rara.events import EventStore, open_event_store
from tests.kit.clock import stepping_clock


@pytest.fixture
def db_path(rara_home: Path) -> Path:
    return rara_home / "rara.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[EventStore]:
    s = open_event_store(db_path, clock=stepping_clock())
    assert s.path == db_path  # the default location follows RARA_HOME
    yield s
    s.close()


@pytest.fixture
def make_clock() -> Callable[..., Callable[[], datetime]]:
    return stepping_clock
