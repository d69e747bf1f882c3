"""`Home`: the layout of `$RARA_HOME` written down once, and several homes in one process."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from rara import config, credentials
from rara.data.catalog import Catalog
from rara.events.store import open_event_store, verify_path
from rara.health import settings_checks
from rara.home import Home
from rara.llm.factory import build_provider
from rara.research.memory import LessonStore
from rara.research.run_setup import build_llm_proposer
from rara.research.store import ResearchStore
from rara.validation.trials import TrialStore

LAYOUT = {
    "config_file": "config.toml",
    "secrets_file": "secrets.toml",
    "state_db": "rara.db",
    "lock_file": "rara.lock",
    "run_locks_dir": "locks",
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


# Everything that opens a file under a home, and the parameter that says which: none of them may
# default it, or a caller that forgot would silently use the environment's home.
OPENERS: list[tuple[Callable[..., Any], str]] = [
    (ResearchStore, "path"),
    (TrialStore, "path"),
    (LessonStore, "path"),
    (open_event_store, "path"),
    (verify_path, "path"),
    (Catalog, "root"),
    (config.load_settings, "home"),
    (credentials.load_secrets, "home"),
    (config.set_values, "home"),
    (config.init_config, "home"),
    (settings_checks, "home"),
    (build_provider, "home"),
    (build_llm_proposer, "home"),
]


@pytest.mark.parametrize(("opener", "param"), OPENERS, ids=lambda x: getattr(x, "__name__", x))
def test_nothing_below_the_edge_defaults_to_the_environment(
    opener: Callable[..., Any], param: str
) -> None:
    assert inspect.signature(opener).parameters[param].default is inspect.Parameter.empty


def test_settings_and_secrets_are_the_given_homes(tmp_path: Path, rara_home: Path) -> None:
    a, b = Home(root=tmp_path / "a"), Home(root=tmp_path / "b")
    config.set_values(a, [("data.max_retries", "3")])
    assert config.load_settings(a, {}).data.max_retries == 3
    assert config.load_settings(b, {}).data.max_retries == 6  # the default: b has no file
    assert a.config_file.is_file() and not b.root.exists()
    b.ensure(b.root)
    b.secrets_file.write_text("[llm]\napi_key = 'sk-b'\n", encoding="utf-8")
    os.chmod(b.secrets_file, 0o600)
    assert credentials.load_secrets(a, {}).llm_api_key is None
    key = credentials.load_secrets(b, {}).llm_api_key
    assert key is not None and key.get_secret_value() == "sk-b"
    assert not rara_home.exists()  # the environment's home was never read or written


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
    with (
        ResearchStore(a.state_db) as sa,
        ResearchStore(b.state_db) as sb,
        TrialStore(a.state_db) as ta,
    ):
        assert sa.start_run("run-a", {"seed": 1})
        assert sb.start_run("run-b", {"seed": 2})
        assert sb.start_run("run-a", {"seed": 3})  # new in b although a has it
        assert [r["run_id"] for r in sa.runs()] == ["run-a"]
        assert sorted(r["run_id"] for r in sb.runs()) == ["run-a", "run-b"]
        assert sa.run_config("run-a") == {"seed": 1}
        assert sb.run_config("run-a") == {"seed": 3}
        assert ta.count() == 0
    assert a.state_db.is_file() and b.state_db.is_file()
    assert not rara_home.exists()  # the environment's home was never read or written
