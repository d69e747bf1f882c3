"""Shared by the CLI tests of LLM runs: a home configured for the emulator, scripted replies at
a known price, and what the run left in its database."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from tests.emulators.openai_emulator import Reply
from tests.kit.llm import MODEL
from tests.kit.paths import EXAMPLES

KEY = "sk-test-llm-runs-8c1d4e"
# $1000 per million tokens both ways: a reply scripted at 1000 prompt tokens costs exactly $1
PRICE = 1000.0
CALL_TOKENS = 1000


def configure(cli: Any, home: Path, api_base: str, *, key: str | None = KEY) -> dict[str, str]:
    """`home` set up for `MODEL` at `api_base`, priced at `PRICE`; the env to run rara with."""
    env = {"RARA_HOME": str(home), "OPENAI_API_KEY": ""}
    if key is not None:
        env["RARA_LLM_API_KEY"] = key
    for name, value in (
        ("llm.model", MODEL),
        ("llm.api_base", api_base),
        ("llm.timeout_s", "20"),
    ):
        assert cli("config", "set", name, value, env=env).code == 0
    with (home / "config.toml").open("a") as f:
        f.write(
            f'\n[llm.prices."{MODEL}"]\n'
            f"input_usd_per_mtok = {PRICE}\noutput_usd_per_mtok = {PRICE}\n"
        )
    return env


def paid(reply: Reply) -> Reply:
    """`reply` billed at exactly $1 (`CALL_TOKENS` prompt tokens, no completion tokens)."""
    reply.prompt_tokens, reply.completion_tokens = CALL_TOKENS, 0
    return reply


def hypothesis(text: str, family: str = "trend_following") -> Reply:
    return paid(
        Reply.of_json(
            {
                "hypothesis": text,
                "rationale": f"{text} A flat market refutes it.",
                "family": family,
                "forecast": {"validation_sharpe": 0.5, "pass_probability": 0.1},
            },
            purpose="propose",
        )
    )


def module(name: str = "sma_crossover", purpose: str = "code") -> Reply:
    return paid(Reply.of_module((EXAMPLES / name / "strategy.py").read_text(), purpose=purpose))


def lint_failing(purpose: str = "code") -> Reply:
    """A module the static check refuses (``import os``), so the loop asks for a fix."""
    source = "import os\n" + (EXAMPLES / "sma_crossover" / "strategy.py").read_text()
    return paid(Reply.of_module(source, purpose=purpose))


def feedback(text: str = "Crossovers lag on hourly bars.") -> Reply:
    return paid(Reply(content=text, purpose="feedback"))


def run_args(*extra: str, iterations: int = 1) -> tuple[str, ...]:
    return (
        "research",
        "run",
        "--proposer",
        "llm",
        "--iterations",
        str(iterations),
        "--seed",
        "5",
        "--quiet",
        *extra,
    )


def experiments(home: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(home / "rara.db") as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT * FROM experiments ORDER BY iteration").fetchall()
    out = [dict(r) for r in rows]
    for row in out:
        for name in ("hypothesis", "llm_calls"):
            if isinstance(row.get(name), str):
                row[name] = json.loads(row[name])
    return out
