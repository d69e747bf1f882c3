from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.kit.cli import CliResult, run_cli
from tests.kit.daemon import planted_edge_home


@pytest.fixture(scope="session")
def planted_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home whose state DB holds one seeded research run on the planted edge (its promoted
    candidates, the rejected ones with their failing check) and a paper run of the first
    promoted strategy over the bars after the split (orders, fills, positions, equity marks):
    the same rows every run, written by the repo's own commands."""
    home = tmp_path_factory.mktemp("tui-home")

    def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> CliResult:
        return run_cli(home, *args, env=env, timeout=timeout)

    kit = planted_edge_home(home, cli)
    summary = kit.research(cli)
    promoted: list[dict[str, Any]] = [
        json.loads(x) for x in cli("research", "promoted").stdout.splitlines()
    ]
    first = next(p for p in promoted if p["run_id"] == summary["run_id"])
    kit.paper(cli, first["name"])
    return home
