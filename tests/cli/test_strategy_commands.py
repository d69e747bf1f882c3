"""`rara backtest run|gate` and `rara sandbox check|run` on the shipped candles: the service does
the work, the command prints it; a rejection or refusal exits 3 with its reason."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.kit.paths import REPO

MARKET = ["--symbol", "BTC/USDT", "--timeframe", "1h", "--backend", "subprocess"]
BROKEN = """
def meta():
    return {"name": "broken", "version": "1.0.0", "api_version": 1, "timeframe": "1h",
            "lookback": 1, "description": "reads a param it never declared", "params": {}}


def on_candles(candles, params):
    return params["boom"], params["boom"]
"""


def test_backtest_run_prints_metrics(cli):
    r = cli("backtest", "run", "sma_crossover", *MARKET, "--params", '{"fast": 10}', "--fees", "0")
    assert r.code == 0, r.stderr
    body = r.json
    assert body["strategy"] == "sma_crossover" and body["instrument"] == "binance:BTC/USDT:1h"
    assert body["params"] == {"fast": 10, "slow": 50}
    assert body["costs"]["fee"] == 0.0 and body["metrics"]["bars"] > 1000


def test_backtest_run_refuses_a_failing_strategy(cli, tmp_path: Path):
    path = tmp_path / "broken.py"
    path.write_text(BROKEN)
    r = cli("backtest", "run", str(path), *MARKET)
    assert r.code == 3 and r.error["code"] == "strategy_runtime_error"
    assert "broken" in r.error["message"]


def test_backtest_gate_rejects_with_the_report_and_publishes_it(cli, rara_home: Path):
    r = cli("backtest", "gate", "sma_crossover", *MARKET)
    assert r.code == 3 and r.error["code"] == "gate_rejected"
    report = r.json["report"]
    names = [c["name"] for c in report["checks"]]
    assert names[:2] == ["sandbox", "meta.timeframe"] and names[-1] == "holdout"
    assert report["failed"] and report["strategy_id"].startswith("st_")
    with sqlite3.connect(rara_home / "rara.db") as db:
        (payload,) = db.execute(
            "SELECT payload FROM events WHERE type = 'validation_gate_decided'"
        ).fetchone()
    assert json.loads(payload)["decision"] == "rejected"


def test_backtest_gate_on_another_timeframe_fails_meta_timeframe(cli):
    """sma_crossover declares 1h; judged on 1d candles its lookback means 50 days."""
    r = cli("backtest", "gate", "sma_crossover", *MARKET[:2], "--timeframe", "1d")
    assert r.code == 3
    check = next(c for c in r.json["report"]["checks"] if c["name"] == "meta.timeframe")
    assert not check["passed"] and (check["value"], check["threshold"]) == ("1h", "1d")
    assert r.json["report"]["failed"][0] == "meta.timeframe"


def test_sandbox_run_and_check(cli, tmp_path: Path):
    r = cli("sandbox", "run", "sma_crossover", *MARKET)
    assert r.code == 0, r.stderr
    assert r.json["meta"]["name"] == "sma_crossover" and r.json["entries"] > 0
    bad = tmp_path / "bad.py"
    bad.write_text(
        (REPO / "strategies/examples/sma_crossover/strategy.py").read_text() + "import os\n"
    )
    r = cli("sandbox", "check", str(bad))
    assert r.code == 3 and r.json["ok"] is False
