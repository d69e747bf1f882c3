"""A home with something to serve, built once per session by the real CLI: the planted-edge
scenario's research run (experiments, gate 1 reports, paper candidates) and a paper run of its
first candidate (orders, fills, the ledger, equity marks) — what a daemon would have left."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rara.events import open_event_store
from rara.feedback.lifecycle import Lifecycle, move
from rara.home import Home
from rara.trading.control import kill, resume
from tests.kit.cli import run_cli
from tests.kit.daemon import planted_edge_home


@dataclass(frozen=True)
class Traded:
    home: Path
    research: dict[str, Any]
    paper: dict[str, Any]
    strategy_id: str


@pytest.fixture(scope="session")
def traded(tmp_path_factory: pytest.TempPathFactory) -> Traded:
    root = tmp_path_factory.mktemp("served") / "rara_home"

    def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> Any:
        return run_cli(root, *args, env=env, timeout=timeout)

    kit = planted_edge_home(root, cli)
    research = kit.research(cli)
    promoted = [json.loads(x) for x in cli("research", "promoted").stdout.splitlines()]
    first = next(p for p in promoted if p["run_id"] == research["run_id"])
    paper = kit.paper(cli, first["name"])
    return Traded(root, research, paper, first["strategy_id"])


@pytest.fixture
def served_home(traded: Traded, rara_home: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    """The traded home, as RARA_HOME. Tests that write to it append only."""
    monkeypatch.setenv("RARA_HOME", str(traded.home))
    return Home(root=traded.home)


class StoreControl:
    """The `Control` port over the state DB, for tests: each call writes its event with the
    real writers (`rara.trading.control`, `rara.feedback.lifecycle.move`). The daemon's own
    implementation lives with the daemon; this one records research pauses in memory only (no
    research runs here)."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self.calls: list[tuple[str, str]] = []

    def _store(self) -> Any:
        return open_event_store(self.home.state_db)

    async def pause_research(self, *, reason: str, by: str) -> int:
        self.calls.append(("pause_research", by))
        with self._store() as store:
            return int(store.last_seq())

    async def resume_research(self, *, by: str) -> int:
        self.calls.append(("resume_research", by))
        with self._store() as store:
            return int(store.last_seq())

    async def kill(self, *, flatten: bool, reason: str, by: str) -> int:
        self.calls.append(("kill", by))
        with self._store() as store:
            return kill(store, reason, flatten=flatten, by=by, source="server").seq

    async def resume(self, *, reason: str, by: str) -> int:
        self.calls.append(("resume", by))
        with self._store() as store:
            return resume(store, by=by, reason=reason or "resumed", source="server").seq

    async def approve_strategy(self, *, strategy_id: str, account: str, by: str) -> int:
        self.calls.append(("approve_strategy", by))
        with self._store() as store:
            ev = move(store, Lifecycle(store), strategy_id, "paper", reason="approved", by=by)
            return ev.seq

    async def demote_strategy(self, *, strategy_id: str, reason: str, by: str) -> int:
        self.calls.append(("demote_strategy", by))
        with self._store() as store:
            lifecycle = Lifecycle(store)
            ev = move(store, lifecycle, strategy_id, "paper_candidate", reason=reason, by=by)
            return ev.seq
