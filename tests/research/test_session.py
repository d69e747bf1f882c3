"""`ResearchSession` as a context manager: what it opened on its home is closed on the way out,
and a session that cannot be assembled leaves nothing open behind it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from rara.config import Settings
from rara.errors import BadInput, RaraError
from rara.home import Home
from rara.research.run_setup import RunConfig
from rara.research.session import ResearchSession


def run_config(proposer: str = "builtin") -> RunConfig:
    return RunConfig(
        exchange="binance",
        symbol="BTC/USDT",
        timeframe="1h",
        proposer=proposer,
        model=None,
        seed=1,
        iterations=1,
        max_cost_usd=None,
        max_duration_s=None,
        backend="subprocess",
    )


def test_leaving_the_session_closes_its_stores(tmp_path: Path, rara_home: Path) -> None:
    home = Home(root=tmp_path / "h")
    with ResearchSession(run_config(), Settings(), home) as session:
        assert session.store.count_runs() == 0 and session.trials.count() == 0
    for use in (session.store.count_runs, session.trials.count, session.lessons.count):
        with pytest.raises(sqlite3.ProgrammingError):
            use()
    with pytest.raises(RaraError, match="closed database"):
        session.events.head()
    assert home.state_db.is_file() and not rara_home.exists()


def test_a_session_that_cannot_be_built_leaves_its_database_free(tmp_path: Path) -> None:
    home = Home(root=tmp_path / "h")
    with pytest.raises(BadInput) as info:
        ResearchSession(run_config(proposer="llm"), Settings(), home)  # no llm.model set
    assert info.value.code == "llm_not_configured"
    # every connection the session had opened is closed: the WAL is checkpointed into the
    # database file and removed only when the last connection goes
    assert home.state_db.is_file()
    assert not Path(f"{home.state_db}-wal").exists()
