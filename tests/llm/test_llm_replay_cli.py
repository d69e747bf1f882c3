"""Replaying recorded runs through the CLI: two runs recorded in one home (the same options, so
the same first prompt), replayed in reverse order in a fresh home from the reply cache alone,
give their original run hashes; a replay that lacks a reply stops with `llm_replay_miss`."""

from __future__ import annotations

import shutil
from pathlib import Path

from rara.llm.cache import ReplyCache, step_key
from tests.llm.runs import (
    configure,
    feedback,
    hypothesis,
    lint_failing,
    module,
    run_args,
)

A = "SMA 20/50 crossover follows hourly trends."
B = "Breakouts of the 55-bar range run on."


def fresh_home(live: Path, tmp_path: Path, name: str) -> tuple[Path, dict[str, str]]:
    """A home that never ran anything: the live home's settings and reply cache only."""
    home = tmp_path / name
    home.mkdir()
    shutil.copy(live / "config.toml", home / "config.toml")
    shutil.copytree(live / "cache", home / "cache")
    return home, {"RARA_HOME": str(home), "OPENAI_API_KEY": ""}


def test_recorded_runs_replay_in_any_order_with_their_run_hashes(cli, emu, tmp_path):
    live = tmp_path / "live"
    env = configure(cli, live, emu.url)
    emu.add(hypothesis(A), module(), feedback())
    first = cli(*run_args(), env=env, timeout=600)
    assert first.code == 0, first.stdout + first.stderr
    emu.add(hypothesis(B, "breakout"), lint_failing(), *[lint_failing("fix") for _ in range(3)])
    second = cli(*run_args(), env=env, timeout=600)
    assert second.code == 0, second.stdout + second.stderr
    a, b = first.json, second.json
    assert a["run_id"] != b["run_id"] and a["run_hash"] != b["run_hash"]
    propose = [q for q in emu.requests if q.purpose == "propose"]
    assert len(propose) == 2
    sent = len(emu.requests)

    # in its own home the run is already there: the replay says where to run it
    own = cli("research", "run", "--replay", a["run_id"], "--quiet", env=env)
    assert own.code == 2 and own.error["code"] == "replay_run_exists"

    home, renv = fresh_home(live, tmp_path, "fresh")
    for original in (b, a):  # the second run first
        r = cli("research", "run", "--replay", original["run_id"], "--quiet", env=renv, timeout=600)
        assert r.code == 0, r.stdout + r.stderr
        replayed = r.json
        assert replayed["run_id"] == original["run_id"]
        assert replayed["run_hash"] == original["run_hash"]
        assert replayed["cost_usd"] == original["cost_usd"]
    assert len(emu.requests) == sent  # nothing was sent

    # a reply gone from the cache: the replay stops at the top level, exit 2
    home, renv = fresh_home(live, tmp_path, "missing")
    cache = ReplyCache(home / "cache" / "llm")
    assert cache._cache.delete(step_key(b["run_id"], 0, 2))  # the first fix round's reply
    cache.close()
    miss = cli("research", "run", "--replay", b["run_id"], "--quiet", env=renv, timeout=600)
    assert miss.code == 2, miss.stdout + miss.stderr
    assert miss.error["code"] == "llm_replay_miss"
    assert f"run {b['run_id']}, iteration 0, call 2" in miss.error["message"]

    unknown = cli("research", "run", "--replay", "run-000000000000", "--quiet", env=renv)
    assert unknown.code == 2 and unknown.error["code"] == "llm_replay_miss"
    assert len(emu.requests) == sent
