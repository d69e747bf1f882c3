"""A weakened gate (issue 9, item 6): thresholds loosened below their defaults are allowed, and
recorded in the report, the run's events, the promoted manifest, `research promoted` and a
warning on stderr. Through the real CLI in a fresh interpreter, on the shipped candles."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rara.config import ResearchGateSettings
from rara.domain.gate import WeakenedThreshold
from rara.domain.market import Instrument, Timeframe
from rara.home import Home
from rara.registry import Registry
from rara.registry.manifest import read_manifest
from rara.research.models import Candidate, Hypothesis
from rara.research.promote import write_paper_candidate
from rara.runner.sandbox import InProcessSandbox
from rara.services.backtest import evaluate_candidate
from tests.kit.candles import shipped_btc
from tests.kit.cli import CliResult
from tests.kit.gate_reports import report
from tests.kit.paths import EXAMPLES

Cli = Callable[..., CliResult]
MARKET = ["--symbol", "BTC/USDT", "--timeframe", "1h", "--backend", "subprocess"]
LOOSENED = {"min_trades": "5", "min_sharpe": "0.1", "holdout_read_budget": "10"}


def loosen(cli: Cli, **env: str) -> None:
    for key, value in LOOSENED.items():
        r = cli("config", "set", f"gates.research.{key}", value, env=env or None)
        assert r.code == 0, r.stderr


def one_line(text: str) -> str:
    return " ".join(text.split())  # rich wraps long log lines


def events_of(home: Path, event_type: str) -> list[dict[str, Any]]:
    with sqlite3.connect(home / "rara.db") as db:
        rows = db.execute(
            "SELECT payload, correlation_id, strategy_id FROM events WHERE type = ? ORDER BY seq",
            (event_type,),
        ).fetchall()
    return [{"payload": json.loads(p), "correlation_id": c, "strategy_id": s} for p, c, s in rows]


# ---- which settings are weakened --------------------------------------------------------------


def test_defaults_and_stricter_values_are_not_weakened() -> None:
    assert ResearchGateSettings().weakened() == []
    stricter = ResearchGateSettings(
        min_sharpe=2,
        max_drawdown=0.1,
        min_trades=60,
        cost_multiplier=3,
        min_dsr=0.99,
        min_trials=500,
        min_holdout_psr=0.95,
        holdout_read_budget=1,
        max_pbo=0.1,
        pbo_min_trials=8,
    )
    assert stricter.weakened() == []


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("min_sharpe", 0.13),
        ("max_drawdown", 0.5),
        ("min_trades", 5),
        ("cost_multiplier", 1.0),
        ("min_dsr", 0.5),
        ("min_trials", 1),
        ("min_holdout_psr", 0.0),
        ("holdout_read_budget", 50),
        ("max_pbo", 0.9),
        ("pbo_min_trials", 1000),
    ],
)
def test_each_loosened_threshold_is_recorded(setting: str, value: float) -> None:
    weakened = ResearchGateSettings.model_validate({setting: value}).weakened()
    default = ResearchGateSettings.model_fields[setting].default
    assert weakened == [
        WeakenedThreshold(setting=f"gates.research.{setting}", value=value, default=default)
    ]


def test_a_threshold_cannot_be_loosened_to_infinity() -> None:
    with pytest.raises(ValueError, match="finite"):
        ResearchGateSettings(min_sharpe=float("-inf"))


# ---- where it is recorded ---------------------------------------------------------------------


def test_backtest_gate_warns_and_records_it(cli: Cli, rara_home: Path) -> None:
    loosen(cli)
    r = cli("backtest", "gate", "sma_crossover", *MARKET)
    assert r.code == 3, r.stderr  # still rejected: loosening is not passing
    said = one_line(r.stderr)
    assert "the research gate is weakened" in said
    assert "gates.research.min_trades = 5 (default 30)" in said
    assert "gates.research.holdout_read_budget = 10 (default 3)" in said
    weakened = r.json["report"]["weakened"]
    assert [w["setting"] for w in weakened] == [
        "gates.research.min_sharpe",
        "gates.research.min_trades",
        "gates.research.holdout_read_budget",
    ]
    (event,) = events_of(rara_home, "validation_gate_weakened")
    assert event["payload"] == {"gate": "research", "thresholds": weakened}
    assert event["strategy_id"] == r.json["report"]["strategy_id"]


def test_an_unweakened_gate_says_nothing(cli: Cli, rara_home: Path) -> None:
    r = cli("backtest", "gate", "sma_crossover", *MARKET)
    assert r.code == 3 and "weakened" not in r.stderr
    assert r.json["report"]["weakened"] == []
    assert events_of(rara_home, "validation_gate_weakened") == []


def test_research_run_warns_and_publishes_it_in_the_run(cli: Cli, rara_home: Path) -> None:
    loosen(cli)
    r = cli("research", "run", "--iterations", "1", "--seed", "3", "--quiet", timeout=300)
    assert r.code == 0, r.stdout + r.stderr
    assert "the research gate is weakened" in one_line(r.stderr)
    run_id = r.json["run_id"]
    (event,) = events_of(rara_home, "validation_gate_weakened")
    assert event["correlation_id"] == run_id
    settings = [t["setting"] for t in event["payload"]["thresholds"]]
    assert settings == [
        "gates.research.min_sharpe",
        "gates.research.min_trades",
        "gates.research.holdout_read_budget",
    ]
    # the run hash covers it: the same run on an unweakened home differs
    plain = cli(
        "research",
        "run",
        "--iterations",
        "1",
        "--seed",
        "3",
        "--quiet",
        env={"RARA_HOME": str(rara_home.parent / "plain")},
        timeout=300,
    )
    assert plain.code == 0 and plain.json["run_id"] == run_id
    assert plain.json["run_hash"] != r.json["run_hash"]


def promote(home: Path, weakened: list[WeakenedThreshold]) -> Path:
    """A candidate written as a paper candidate the way the loop writes one."""
    source = (EXAMPLES / "sma_crossover" / "strategy.py").read_text()
    candles = shipped_btc("1h")
    checked = evaluate_candidate(InProcessSandbox(), source, candles)
    assert checked.meta is not None
    gate_report = report([]).model_copy(update={"weakened": weakened})
    inst = Instrument(exchange="binance", symbol="BTC/USDT", timeframe=Timeframe.parse("1h"))
    cand = Candidate(
        hypothesis=Hypothesis(hypothesis="sma", rationale="test", family="sma"),
        source=source,
        origin="test",
    )
    return write_paper_candidate(
        Registry(Home(root=home)),
        "run-x",
        "run-x-0000",
        cand,
        gate_report,
        checked.meta.model_dump(),
        inst,
        candles,
    )


def test_the_promoted_manifest_and_research_promoted_show_it(cli: Cli, rara_home: Path) -> None:
    loose = [WeakenedThreshold(setting="gates.research.min_trades", value=5.0, default=30.0)]
    written = promote(rara_home, loose)
    assert read_manifest(written).weakened == loose
    r = cli("research", "promoted")
    assert r.code == 0, r.stderr
    (line,) = [json.loads(x) for x in r.stdout.splitlines()]
    assert line["weakened"] == [w.model_dump() for w in loose]
    assert "promoted by a weakened gate (gates.research.min_trades)" in one_line(r.stderr)


def test_an_unweakened_promotion_says_none(cli: Cli, rara_home: Path) -> None:
    written = promote(rara_home, [])
    assert read_manifest(written).weakened == []
    r = cli("research", "promoted")
    (line,) = [json.loads(x) for x in r.stdout.splitlines()]
    assert line["weakened"] == [] and "weakened" not in r.stderr
