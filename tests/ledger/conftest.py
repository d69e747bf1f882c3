"""Fixtures for the ledger tests: a ledger in the per-test home's state DB."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rara.ledger import Ledger, open_ledger


@pytest.fixture
def db(rara_home: Path) -> Path:
    return rara_home / "rara.db"


@pytest.fixture
def ledger(db: Path) -> Iterator[Ledger]:
    with open_ledger(db) as opened:
        yield opened
