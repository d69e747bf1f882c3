"""The state a recorded run started from, kept and restored for its replay: a home's promoted
manifests come back (so a promotion's directory is named as the original's was), a home that
never ran anything gives an empty state, and a corrupt record is refused with a clear code."""

from __future__ import annotations

import sqlite3

import pytest

from rara.errors import RaraError
from rara.home import Home
from rara.research.replay_state import TABLES, restore, scratch_home, snapshot
from rara_sandbox.manifest import MANIFEST_FILE


def test_promoted_manifests_come_back_in_the_scratch_home(tmp_path):
    home = Home(root=tmp_path / "home")
    promoted = home.promoted_dir / "sma_cross"
    promoted.mkdir(parents=True)
    (promoted / MANIFEST_FILE).write_text('name = "sma_cross"\nsha256 = "ab"\n', encoding="utf-8")
    (promoted / "strategy.py").write_text("# not kept: only the manifest names the code\n")
    scratch = scratch_home(home, "run-1")
    restore(snapshot(home), scratch)
    assert (scratch.promoted_dir / "sma_cross" / MANIFEST_FILE).read_text(encoding="utf-8") == (
        promoted / MANIFEST_FILE
    ).read_text(encoding="utf-8")
    assert not (scratch.promoted_dir / "sma_cross" / "strategy.py").exists()
    assert scratch.root == home.root / "replays" / "run-1" / "1"
    assert scratch_home(home, "run-1").root.name == "2"  # each replay its own
    assert not home.state_db.exists()  # keeping the state wrote nothing into the home


def test_a_home_that_never_ran_gives_empty_tables(tmp_path):
    scratch = Home(root=tmp_path / "scratch")
    restore(snapshot(Home(root=tmp_path / "empty")), scratch)
    with sqlite3.connect(scratch.state_db) as db:
        assert [db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES] == [0] * 4


def test_a_corrupt_starting_state_is_refused(tmp_path):
    with pytest.raises(RaraError) as caught:
        restore(b"not zlib", Home(root=tmp_path / "scratch"))
    assert caught.value.code == "llm_cache_corrupt"
