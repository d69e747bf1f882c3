"""The planted-edge scenario holds what the daemon's end-to-end test relies on: research, on the
bars before the split only, promotes a paper candidate within a few iterations, and that candidate
paper-traded on the bars after the split passes gate 2's checks."""

from __future__ import annotations

import json

from rara.config import load_settings
from rara.domain.market import ms_to_iso
from rara.home import Home
from tests.kit.daemon import HOUR_MS, PAPER_GATE, gate2_figures, planted_edge_home


def test_research_promotes_before_the_split_and_paper_passes_gate_2_after_it(cli, rara_home):
    kit = planted_edge_home(rara_home, cli)
    settings = load_settings(Home(root=rara_home), environ={})
    assert settings.daemon.research.symbol == kit.symbol
    assert settings.daemon.research.iterations_per_run == kit.iterations
    assert settings.gates.paper.model_dump() == PAPER_GATE
    assert settings.daemon.replay_from == kit.split

    # (a) research, as of the split, promotes on the bars before it
    info = cli("data", "info").json
    (edge,) = [i for i in info["instruments"] if i["symbol"] == kit.symbol]
    assert edge["rows"] == kit.research_bars + kit.paper_bars and edge["end"] > kit.split
    summary = kit.research(cli)
    promotions = [
        c["iteration"] for c in summary["candidates"] if c["outcome"] == "paper_candidate"
    ]
    assert promotions and promotions[0] <= 1, summary["candidates"]  # measured: iterations 0, 3
    assert summary["instrument"] == f"{kit.exchange}:{kit.symbol}:{kit.timeframe}"
    promoted = [json.loads(x) for x in cli("research", "promoted").stdout.splitlines()]
    (first, *_) = [p for p in promoted if p["run_id"] == summary["run_id"]]
    # what gate 1 judged ends with the last bar before the split
    assert first["data_range"][1] == ms_to_iso(kit.split_ms - HOUR_MS)

    # (b) the bars after the split, paper-traded, pass gate 2 and equal the backtest
    paper = kit.paper(cli, first["name"])
    assert paper["strategy_id"] == first["strategy_id"] and paper["bars"] == kit.paper_bars
    assert paper["backtest_comparison"]["ok"] and paper["ledger"]["ok"]
    figures = gate2_figures(rara_home, paper, kit.gate2)
    assert figures["marks"] >= kit.paper_bars  # one per bar (and the opening equity)
    assert figures["passed"], figures
