"""Replaying recorded runs through the CLI: two runs recorded in one home (the second one's gate
counting the first one's trial) replay in that home and in a fresh one, in either order, with
their original run hashes and without writing the home's own state; a replay that lacks a reply
stops with `llm_replay_miss`, one whose reply was edited or whose starting state is gone says it
diverged (or missed) and why, a run recorded before rara kept its starting state replays in its
own home from the state rebuilt from the log, and a replay cannot be resumed."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

from rara.llm.cache import ReplyCache, start_key, step_key
from tests.llm.runs import configure, experiments, feedback, hypothesis, module, run_args

A = "SMA 20/50 crossover follows hourly trends."
B = "Breakouts of the 55-bar range run on."


def fresh_home(live: Path, tmp_path: Path, name: str) -> tuple[Path, dict[str, str]]:
    """A home that never ran anything: the live home's settings and reply cache only."""
    home = tmp_path / name
    home.mkdir()
    shutil.copy(live / "config.toml", home / "config.toml")
    shutil.copytree(live / "cache", home / "cache")
    return home, {"RARA_HOME": str(home), "OPENAI_API_KEY": ""}


def replay(cli: Any, run_id: str, env: dict[str, str]) -> Any:
    return cli("research", "run", "--replay", run_id, "--quiet", env=env, timeout=900)


def state_rows(home: Path) -> dict[str, int]:
    with sqlite3.connect(home / "rara.db") as db:
        return {
            t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("research_runs", "experiments", "trials", "lessons", "events")
        }


def test_recorded_runs_replay_in_their_home_and_a_fresh_one_in_any_order(cli, emu, tmp_path):
    live = tmp_path / "live"
    env = configure(cli, live, emu.url)
    emu.add(hypothesis(A), module(), feedback())
    first = cli(*run_args(), env=env, timeout=900)
    assert first.code == 0, first.stdout + first.stderr
    # the same code under another hypothesis: a duplicate of the first run's experiment, which
    # only a replay that starts from the state the second run started from can tell
    emu.add(hypothesis(B, "breakout"), module())
    second = cli(*run_args(), env=env, timeout=900)
    assert second.code == 0, second.stdout + second.stderr
    a, b = first.json, second.json
    assert a["run_id"] != b["run_id"] and a["run_hash"] != b["run_hash"]
    assert [e["outcome"] for e in experiments(live)] == ["rejected", "duplicate"]
    sent, before = len(emu.requests), state_rows(live)

    own = [replay(cli, original["run_id"], env) for original in (b, a)]  # the second run first
    home, renv = fresh_home(live, tmp_path, "fresh")
    fresh = [replay(cli, original["run_id"], renv) for original in (b, a)]
    homes = [(r, b if i == 0 else a, live) for i, r in enumerate(own)]
    homes += [(r, b if i == 0 else a, home) for i, r in enumerate(fresh)]
    for r, original, where in homes:
        assert r.code == 0, r.stdout + r.stderr
        replayed = r.json
        assert replayed["run_id"] == original["run_id"]
        assert replayed["run_hash"] == original["run_hash"]
        assert "differs from the recorded one" not in r.stderr  # the same lessons in its prompts
        assert replayed["cost_usd"] == original["cost_usd"]
        assert replayed["replay"] == {
            "run_id": original["run_id"],
            "state_db": replayed["replay"]["state_db"],
            "starting_state": "recorded",
            "original_run_hash": original["run_hash"],
            "run_hash": original["run_hash"],
            "reproduced": True,
        }
        scratch = Path(replayed["replay"]["state_db"])
        assert scratch.is_file() and scratch.parent.parent == where / "replays" / original["run_id"]
        commands = [c["command"] for c in replayed["next_commands"]]
        assert not any("--resume" in c for c in commands)  # a replay is never resumed
        assert f"RARA_HOME={scratch.parent} rara research list" in commands
    assert len(emu.requests) == sent  # nothing was sent
    assert state_rows(live) == before  # the home's own state was not written
    # the scratch state is a home of its own that verifies: the copied rows sealed as adopted
    scratch_env = {"RARA_HOME": str(Path(own[0].json["replay"]["state_db"]).parent)}
    verified = cli("events", "verify", env=scratch_env)
    assert verified.code == 0 and verified.json["ok"], verified.stdout + verified.stderr
    assert verified.json["rows_checked"] == before["experiments"] + before["trials"]
    assert not (home / "rara.db").exists()

    # the reply to the second run's proposal edited in the cache: the replay says it diverged
    home, renv = fresh_home(live, tmp_path, "tampered")
    cache = ReplyCache(home / "cache" / "llm")
    proposal = cache.get_step(step_key(b["run_id"], 0, 0))
    assert proposal is not None and "55-bar" in proposal.text
    cache.put_step(
        step_key(b["run_id"], 0, 0),
        proposal.model_copy(update={"text": proposal.text.replace("55-bar", "89-bar")}),
    )
    cache.close()
    tampered = replay(cli, b["run_id"], renv)
    assert tampered.code == 1, tampered.stdout + tampered.stderr
    assert tampered.error["code"] == "replay_diverged"
    assert b["run_hash"][:16] in tampered.error["message"]

    # the state the second run started from is gone: its experiment is no duplicate any more,
    # and the replay says why it could not reproduce the run
    home, renv = fresh_home(live, tmp_path, "no-start")
    cache = ReplyCache(home / "cache" / "llm")
    assert cache._cache.delete(start_key(b["run_id"]))
    cache.close()
    stateless = replay(cli, b["run_id"], renv)
    assert stateless.code in (1, 2), stateless.stdout + stateless.stderr
    # judged afresh, the experiment asks for a reflection the original never made: a miss
    assert stateless.error["code"] in ("replay_diverged", "llm_replay_miss")
    assert "no recorded state" in stateless.error["message"]

    # a reply gone from the cache: the replay stops at the top level, exit 2
    home, renv = fresh_home(live, tmp_path, "missing")
    cache = ReplyCache(home / "cache" / "llm")
    assert cache._cache.delete(step_key(b["run_id"], 0, 1))  # the code reply
    cache.close()
    miss = replay(cli, b["run_id"], renv)
    assert miss.code == 2, miss.stdout + miss.stderr
    assert miss.error["code"] == "llm_replay_miss"
    assert f"run {b['run_id']}, iteration 0, call 1" in miss.error["message"]

    unknown = cli("research", "run", "--replay", "run-000000000000", "--quiet", env=renv)
    assert unknown.code == 2 and unknown.error["code"] == "llm_replay_miss"
    resumed = cli(
        "research", "run", "--replay", b["run_id"], "--resume", b["run_id"], "--quiet", env=env
    )
    assert resumed.code == 2 and resumed.error["code"] == "replay_resume"

    # a run recorded before rara kept its starting state: in its own home, the state is rebuilt
    # from the rows sealed in the log before the run started
    cache = ReplyCache(live / "cache" / "llm")
    assert cache._cache.delete(start_key(b["run_id"]))
    cache.close()
    rebuilt = replay(cli, b["run_id"], env)
    assert rebuilt.code == 0, rebuilt.stdout + rebuilt.stderr
    assert rebuilt.json["replay"]["starting_state"] == "rebuilt"
    assert rebuilt.json["replay"]["reproduced"] is True
    assert "differs from the recorded one" not in rebuilt.stderr
    assert len(emu.requests) == sent
    assert state_rows(live) == before
