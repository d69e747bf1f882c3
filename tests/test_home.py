"""`Home`: the layout of `$RARA_HOME` written down once, and several homes in one process."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from rara import config
from rara.home import Home
from rara.research.store import ResearchStore
from rara.state import default_db_path
from rara.validation.trials import TrialStore

LAYOUT = {
    "config_file": "config.toml",
    "secrets_file": "secrets.toml",
    "state_db": "rara.db",
    "lock_file": "rara.lock",
    "data_dir": "data",
    "cache_dir": "cache",
    "llm_cache_dir": "cache/llm",
    "reports_dir": "reports",
    "strategies_dir": "strategies",
    "promoted_dir": "strategies/promoted",
    "installed_dir": "strategies/installed",
    "trust_dir": "trust",
}


def test_every_path_has_its_place_under_the_root(tmp_path: Path) -> None:
    home = Home(root=tmp_path / "h")
    for prop, rel in LAYOUT.items():
        assert getattr(home, prop) == tmp_path / "h" / rel, prop
    assert len({getattr(home, p) for p in LAYOUT}) == len(LAYOUT)  # no two share a path


def test_reading_paths_creates_nothing(tmp_path: Path) -> None:
    home = Home(root=tmp_path / "h")
    for prop in LAYOUT:
        getattr(home, prop)
    assert not home.root.exists()
    assert home.ensure(home.reports_dir / "run-1").is_dir()


def test_from_env_reads_rara_home_once(tmp_path: Path, rara_home: Path) -> None:
    assert Home.from_env().root == rara_home
    assert Home.from_env({"RARA_HOME": str(tmp_path / "x")}).root == tmp_path / "x"
    assert Home.from_env({"RARA_HOME": "~/somewhere"}).root == Path.home() / "somewhere"
    assert Home.from_env({}).root == Path.home() / ".rara"
    assert Home.from_env({"RARA_HOME": ""}).root == Path.home() / ".rara"


def test_the_environment_edge_agrees_with_home(rara_home: Path) -> None:
    home = Home.from_env()
    assert config.rara_home() == home.root
    assert config.config_path() == home.config_file
    assert config.secrets_path() == home.secrets_file
    assert default_db_path() == home.state_db


def test_home_is_frozen(tmp_path: Path) -> None:
    home = Home(root=tmp_path)
    with pytest.raises(ValidationError):
        home.root = tmp_path / "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        Home(root=tmp_path, data=tmp_path)  # type: ignore[call-arg]


def test_relative_names_a_path_the_same_in_any_home(tmp_path: Path) -> None:
    a, b = Home(root=tmp_path / "a"), Home(root=tmp_path / "b")
    assert a.relative(a.promoted_dir / "x") == b.relative(b.promoted_dir / "x")
    with pytest.raises(ValueError):
        a.relative(b.promoted_dir)


def test_two_homes_in_one_process_do_not_touch(tmp_path: Path, rara_home: Path) -> None:
    a, b = Home(root=tmp_path / "a"), Home(root=tmp_path / "b")
    sa, sb, ta = ResearchStore(a.state_db), ResearchStore(b.state_db), TrialStore(a.state_db)
    try:
        assert sa.start_run("run-a", {"seed": 1})
        assert sb.start_run("run-b", {"seed": 2})
        assert sb.start_run("run-a", {"seed": 3})  # new in b although a has it
        assert [r["run_id"] for r in sa.runs()] == ["run-a"]
        assert sorted(r["run_id"] for r in sb.runs()) == ["run-a", "run-b"]
        assert sa.run_config("run-a") == {"seed": 1}
        assert sb.run_config("run-a") == {"seed": 3}
        assert ta.count() == 0
    finally:
        for store in (sa, sb, ta):
            store.close()
    assert a.state_db.is_file() and b.state_db.is_file()
    assert not rara_home.exists()  # the environment's home was never read or written
