"""Acceptance 4 of the registry: a strategy promoted by the research loop, published with its
lineage, fetched over HTTP into a fresh ``$RARA_HOME`` (gate 1 again, on that home's candles), and
paper-traded there gives the same backtest metrics, and the same paper run, as at home."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tests.kit.cli import run_cli
from tests.registry.remote_kit import LOOSE_GATE, static_server

PAPER = ("--symbol", "EDGE/USDT", "--timeframe", "1h", "--start", "2024-02-01", "--quiet")
MARKET = ("--symbol", "EDGE/USDT", "--timeframe", "1h")


def _home(root: Path, candles: Path) -> Path:
    root.mkdir(parents=True)
    shutil.copytree(candles, root / "data")
    (root / "config.toml").write_text(LOOSE_GATE)
    return root


def _paper_view(summary: dict[str, object]) -> dict[str, object]:
    """What a paper run traded, without its ids and clocks."""
    return {k: summary[k] for k in ("bars", "trades", "fills", "pnl", "final_equity", "orders")}


@pytest.mark.slow
def test_promoted_published_fetched_and_paper_traded_alike(tmp_path: Path, candles: Path) -> None:
    home = _home(tmp_path / "home", candles)
    run = run_cli(
        home,
        *("research", "run", "--contract", "EDGE-USDT", "--iterations", "12", "--seed", "1"),
        "--quiet",
        timeout=600,
    )
    assert run.code == 0, run.stdout + run.stderr
    summary = run.json
    promoted = [json.loads(x) for x in run_cli(home, "research", "promoted").stdout.splitlines()]
    assert promoted, "the planted edge promotes a candidate (tests/research/test_loop.py)"
    name = Path(promoted[0]["path"]).name

    key = tmp_path / "keys" / "publisher.key"
    made = run_cli(home, "strategy", "keygen", str(key))
    assert made.code == 0 and key.stat().st_mode & 0o777 == 0o600
    assert "PRIVATE" not in made.stdout + made.stderr
    out = tmp_path / "registry"
    pub = run_cli(home, "strategy", "publish", name, "--out", str(out), "--key", str(key))
    assert pub.code == 0, pub.stdout + pub.stderr
    index = json.loads((out / "index.json").read_text())
    [entry] = index["strategies"]
    # the lineage from the home's event log: the run, its hash, the promotion's event
    assert entry["stage"] == "paper_candidate"
    prov = entry["provenance"]
    assert prov["run_id"] == summary["run_id"] and prov["run_hash"] == summary["run_hash"]
    events = run_cli(home, "events", "query", "--type", "research_strategy_candidate")
    seqs = [json.loads(x)["seq"] for x in events.stdout.splitlines() if name in x]
    assert prov["promotion_seq"] in seqs
    report = (home / "strategies" / "promoted" / name / "gate_report.json").read_bytes()
    assert prov["gate_reports"] == {"gate_report.json": hashlib.sha256(report).hexdigest()}

    fresh = _home(tmp_path / "fresh", candles)
    assert run_cli(fresh, "strategy", "trust", f"{key}.pub").code == 0
    with static_server(out) as url:
        got = run_cli(fresh, "strategy", "fetch", name, "--registry", url, timeout=600)
    assert got.code == 0, got.stdout + got.stderr
    assert got.json["lifecycle_stage"] == "paper_candidate"
    assert got.json["strategy_id"] == promoted[0]["strategy_id"]  # the same strategy, by id

    # the same backtest metrics at home (promoted) and in the fresh home (installed)
    bt = [run_cli(h, "backtest", "run", name, *MARKET, timeout=600) for h in (home, fresh)]
    assert all(b.code == 0 for b in bt), [b.stdout + b.stderr for b in bt]
    assert bt[0].json["metrics"] == bt[1].json["metrics"]
    assert bt[0].json["metrics"]["trades"] > 0

    # paper-traded in both: the same trades and PnL, each agreeing with its own backtest
    paper = [run_cli(h, "paper", "run", name, *PAPER, timeout=600) for h in (home, fresh)]
    assert all(p.code == 0 for p in paper), [p.stdout + p.stderr for p in paper]
    assert _paper_view(paper[0].json) == _paper_view(paper[1].json)
    assert all(p.json["backtest_comparison"]["ok"] for p in paper)
    assert paper[0].json["bars"] > 1500 and paper[0].json["fills"] > 0
