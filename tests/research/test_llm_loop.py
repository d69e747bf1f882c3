"""The LLM proposer inside the real loop: `rara research run --proposer llm` in a subprocess,
litellm pointed at an OpenAI-compatible emulator on 127.0.0.1 by api_base. Every scripted case
ends as the design says, is recorded with its reason, and the loop goes on."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

from tests.emulators.openai_emulator import OpenAIEmulator, Reply
from tests.kit.llm import MODEL
from tests.kit.paths import EXAMPLES
from tests.kit.strategies import PEEKS_AT_NEXT_CLOSE

KEY = "sk-test-llm-loop-5f2a9c"


def hypothesis(text: str, family: str) -> Reply:
    return Reply.of_json(
        {
            "hypothesis": text,
            "rationale": f"{text} A flat market refutes it.",
            "family": family,
            "forecast": {"validation_sharpe": 0.5, "pass_probability": 0.1},
        },
        purpose="propose",
    )


def module(name: str) -> str:
    return (EXAMPLES / name / "strategy.py").read_text()


ZSCORE = """
def meta():
    return {"name": "zscore_fade", "version": "1.0.0", "api_version": 1, "timeframe": "1h",
            "lookback": 60, "description": "fade 2-sigma dips", "params": {"window": 50}}


def on_candles(candles, params):
    z = ta.zscore(candles.close, params["window"])
    return ta.crossover(z, -2.0), z > 0.0
"""
LOOKAHEAD = PEEKS_AT_NEXT_CLOSE
CPU_BURN = """
def meta():
    return {"name": "burn", "version": "1.0.0", "api_version": 1, "timeframe": "1h",
            "lookback": 1, "description": "never returns", "params": {}}


def on_candles(candles, params):
    n = 0
    while True:
        n = n + 1
"""
DUNDER_WALK = CPU_BURN.replace(
    "    n = 0\n    while True:\n        n = n + 1\n",
    "    return ().__class__.__bases__[0].__subclasses__()\n",
)


def script() -> list[Reply]:
    return [
        # 0: a good strategy
        hypothesis("SMA 20/50 crossover follows hourly trends.", "trend_following"),
        Reply.of_module(module("sma_crossover")),
        Reply(content="SMA crossover lost to costs on validation.", purpose="feedback"),
        # 1: malformed JSON, then a reply that parses
        Reply(content='{"hypothesis": "RSI dips", "rationale": ', purpose="propose"),
        hypothesis("RSI recoveries from oversold in an uptrend revert upward.", "mean_reversion"),
        Reply.of_module(module("rsi_mean_reversion")),
        Reply(content="Too few RSI entries to judge.", purpose="feedback"),
        # 2: fails the static check, still fails after fix 1, fixed in round 2
        hypothesis("Donchian 55-bar breakouts with an ATR stop.", "breakout"),
        Reply.of_module("import os\n" + module("donchian_breakout")),
        Reply.of_module("import sys\n" + module("donchian_breakout"), purpose="fix"),
        Reply.of_module(module("donchian_breakout"), purpose="fix"),
        Reply(content="Breakouts were rare on validation.", purpose="feedback"),
        # 3: look-ahead, never repaired
        hypothesis("Tomorrow's close predicts today.", "momentum"),
        Reply.of_module(LOOKAHEAD),
        *[Reply.of_module(LOOKAHEAD, purpose="fix") for _ in range(3)],
        # 4: attacks the sandbox: a CPU burn, then attribute walks
        hypothesis("A strategy that never returns.", "volatility"),
        Reply.of_module(CPU_BURN),
        *[Reply.of_module(DUNDER_WALK, purpose="fix") for _ in range(3)],
        # 5: the reply never comes (client timeout is 2 s)
        Reply(delay_s=6, content="{}", purpose="propose"),
        # 6: the loop goes on
        hypothesis("Fade 2-sigma dips below the 50-bar mean.", "mean_reversion"),
        Reply.of_module(ZSCORE),
        Reply(content="Dips kept falling.", purpose="feedback"),
    ]


def configure(cli, home: Path, emu: OpenAIEmulator) -> dict[str, str]:
    env = {"RARA_HOME": str(home), "RARA_LLM_API_KEY": KEY}
    for key, value in (
        ("llm.model", MODEL),
        ("llm.api_base", emu.url),
        ("llm.timeout_s", "2"),
        ("sandbox.wall_timeout_s", "3"),
    ):
        assert cli("config", "set", key, value, env=env).code == 0
    return env


def outcomes(home: Path) -> list[tuple]:
    with sqlite3.connect(home / "rara.db") as db:
        return db.execute(
            "SELECT iteration, outcome, failed_check, fix_rounds FROM experiments "
            "ORDER BY iteration"
        ).fetchall()


def trial_rows(home: Path) -> list[tuple]:
    with sqlite3.connect(home / "rara.db") as db:
        return sorted(db.execute("SELECT trial_id, run_id, segment, sharpe, returns FROM trials"))


def test_scripted_llm_run_then_replays(cli, emu, tmp_path):
    home = tmp_path / "live"
    env = configure(cli, home, emu)
    emu.add(*script())
    r = cli(
        "research",
        "run",
        "--proposer",
        "llm",
        "--iterations",
        "7",
        "--seed",
        "3",
        "--quiet",
        env=env,
        timeout=600,
    )
    assert r.code == 0, r.stdout + r.stderr
    s = r.json
    got = {i: (outcome, failed, rounds) for i, outcome, failed, rounds in outcomes(home)}
    assert got[0][0] in ("rejected", "paper_candidate") and got[0][2] == 0
    assert got[1][0] in ("rejected", "paper_candidate")  # parsed on the retry
    assert got[2][0] in ("rejected", "paper_candidate") and got[2][2] == 2  # fixed in round 2
    assert got[3] == ("rejected", "lookahead.truncation", 3)
    assert got[4][0] == "error" and got[4][1] == "sandbox.lint_failed" and got[4][2] == 3
    assert got[5][:2] == ("error", "proposer.llm_timeout")
    assert got[6][0] in ("rejected", "paper_candidate")  # the loop went on
    assert s["experiments"] == 7 and s["cost_usd"] > 0

    # the retry carried the parse error; each fix carried the exact error text
    propose = [q for q in emu.requests if q.purpose == "propose"]
    assert any("JSON" in q.last_user or "parse" in q.last_user.lower() for q in propose[2:3])
    fixes = [q for q in emu.requests if q.purpose == "fix"]
    assert "import" in fixes[0].last_user  # the lint finding for `import os`
    assert any("truncation" in q.last_user for q in fixes)
    assert any("timeout" in q.last_user.lower() for q in fixes)  # the CPU burn's verdict
    show = cli("research", "show", "--experiment-id", f"{s['run_id']}-0005", env=env)
    assert "llm_timeout" in show.stdout
    for out in (r.stdout, r.stderr, show.stdout, cli("config", "list", env=env).stdout):
        assert KEY not in out

    # replay the recorded replies twice, offline: same trials, same run hash, no HTTP at all
    seen = len(emu.requests)
    replays = []
    for name in ("replay_a", "replay_b"):
        rhome = tmp_path / name
        renv = configure(cli, rhome, emu)
        shutil.copytree(home / "cache", rhome / "cache")
        rr = cli(
            "research",
            "run",
            "--proposer",
            "replay",
            "--iterations",
            "7",
            "--seed",
            "3",
            "--quiet",
            env=renv,
            timeout=600,
        )
        assert rr.code == 0, rr.stdout + rr.stderr
        assert rr.json["replay"]["reproduced"] is True
        # a replay writes its own scratch state, never its home's
        replays.append((rr.json, Path(rr.json["replay"]["state_db"]).parent))
    assert len(emu.requests) == seen
    (a, home_a), (b, home_b) = replays
    assert a["run_hash"] == b["run_hash"] and trial_rows(home_a) == trial_rows(home_b)
    assert outcomes(home_a) == outcomes(home) == outcomes(home_b)


def test_budget_below_one_call_stops_after_it(cli, emu, tmp_path):
    home = tmp_path / "budget"
    env = configure(cli, home, emu)
    emu.add(
        hypothesis("SMA crossover.", "trend_following"), Reply.of_module(module("sma_crossover"))
    )
    r = cli(
        "research",
        "run",
        "--proposer",
        "llm",
        "--iterations",
        "5",
        "--max-cost-usd",
        "0.0000001",
        "--quiet",
        env=env,
        timeout=300,
    )
    assert r.code == 0, r.stdout + r.stderr
    s = r.json
    assert s["stop_reason"] == "max_cost_usd" and "max-cost-usd" in s["stopped"]
    assert len(emu.requests) == 1  # the one call that crossed the limit, and no other
    assert s["experiments"] == 1 and s["cost_usd"] > 0.0000001
    assert outcomes(home) == [(0, "error", "budget", 0)]
    ended = json.loads(cli("research", "list", "--runs", env=env).stdout.splitlines()[0])
    assert ended["end"]["stop_reason"] == "max_cost_usd"
