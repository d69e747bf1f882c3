"""`rara strategy list|show|approve|demote|retire` through the real CLI, on a home whose lifecycle
is built from real events (a candidate, then moves), and on a real promotion by research."""

from __future__ import annotations

import getpass
import json
from decimal import Decimal
from pathlib import Path

from rara.domain.events import (
    ResearchStrategyCandidate,
    TradingEquityMarked,
    TradingSessionStarted,
)
from rara.domain.lifecycle import Gate2Check, Gate2Report, Stage
from rara.events import open_event_store
from rara.feedback.lifecycle import Lifecycle, move
from tests.kit.daemon import planted_edge_home, write_promoted_dir

WHO = f"cli:{getpass.getuser()}"


def _candidate(home: Path, sid: str, name: str, *stages: Stage) -> None:
    """Append `sid` as research's paper candidate, then move it through `stages`."""
    with open_event_store(home / "rara.db") as store:
        store.append(
            ResearchStrategyCandidate(
                experiment_id=f"run-x-{name}",
                name=name,
                path=f"strategies/promoted/{name}",
                stage="paper_candidate",
                trial_ids={"train": "tr_1", "validation": "tr_2", "holdout": "tr_3"},
            ),
            source="research",
            correlation_id="run-x",
            strategy_id=sid,
        )
        lifecycle = Lifecycle(store)
        for to in stages:
            report = (
                Gate2Report(
                    strategy_id=sid,
                    run_id="paper_1",
                    instrument="synthetic:EDGE/USDT:1h",
                    first_bar_ms=0,
                    last_bar_ms=3_600_000,
                    bars=2,
                    passed=True,
                    failed=[],
                    checks=[Gate2Check(name="paper_trades", passed=True, value=9, threshold=5)],
                )
                if to == "live_candidate"
                else None
            )
            move(store, lifecycle, sid, to, reason=f"to {to}", by="gate2", report=report)


def _paper_run(home: Path, sid: str) -> None:
    """A paper deployment of `sid` with one equity mark, as the engine records them."""
    with open_event_store(home / "rara.db") as store:
        store.append(
            TradingSessionStarted(
                run_id="paper_1", strategy_id=sid, strategy_path="strategies/promoted/alpha",
                account="paper:paper_1", exchange="synthetic", symbol="EDGE/USDT",
                timeframe="1h", mode="paper", feed="replay", trailing_window=10, resumed=False,
            ),
            source="trading", correlation_id="paper_1", strategy_id=sid,
        )  # fmt: skip
        store.append(
            TradingEquityMarked(
                account="paper:paper_1", symbol="EDGE/USDT", bar_ms=3_600_000,
                mark=Decimal("101"), cash=Decimal("10100"), position=Decimal(0),
                equity=Decimal("10100"), peak_equity=Decimal("10100"),
            ),
            source="trading", correlation_id="paper_1", strategy_id=sid,
        )  # fmt: skip


def _accounts(cli) -> None:
    for key, value in [
        ("trading.accounts.tn.exchange", "binance"),
        ("trading.accounts.main.exchange", "binance"),
        ("trading.accounts.main.mode", "live"),
    ]:
        assert cli("config", "set", key, value).code == 0


def test_a_live_candidate_is_approved_by_a_person_then_demoted_and_retired(cli, rara_home):
    _candidate(rara_home, "st_aaaa000000000001", "alpha", "paper", "live_candidate")
    write_promoted_dir(rara_home, "alpha", "binance:BTC/USDT:1h")
    _candidate(rara_home, "st_bbbb000000000002", "beta")
    _paper_run(rara_home, "st_aaaa000000000001")
    _accounts(cli)

    listed = cli("strategy", "list", "--stage", "live_candidate", "--stage", "paper_candidate")
    assert listed.code == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["name"], r["stage"]) for r in rows] == [
        ("alpha", "live_candidate"),
        ("beta", "paper_candidate"),
    ]
    only = cli("strategy", "list", "--stage", "live_candidate")
    assert [json.loads(x)["name"] for x in only.stdout.splitlines()] == ["alpha"]

    not_yet = cli("strategy", "approve", "beta", "--account", "tn")
    assert not_yet.code == 3 and not_yet.error["code"] == "not_a_live_candidate"
    assert "gate 2" in not_yet.error["suggestion"]
    no_account = cli("strategy", "approve", "alpha", "--account", "nope")
    assert no_account.code == 2 and no_account.error["code"] == "unknown_account"

    approved = cli("strategy", "approve", "st_aaaa", "--account", "tn")  # a unique prefix
    assert approved.code == 0, approved.stdout + approved.stderr
    rec = approved.json
    assert (rec["stage"], rec["account"]) == ("live", "tn") and "note" not in rec
    assert rec["history"][-1]["by"] == WHO and rec["history"][-1]["kind"] == "confirm"

    shown = cli("strategy", "show", "alpha").json
    assert [t["to_stage"] for t in shown["history"]] == [
        "paper_candidate", "paper", "live_candidate", "live",
    ]  # fmt: skip
    assert [t["by"] for t in shown["history"]][1:] == ["gate2", "gate2", WHO]
    assert shown["gate2_report"]["passed"] and shown["gate2_report"]["run_id"] == "paper_1"
    assert shown["manifest"]["instrument"] == "binance:BTC/USDT:1h"
    assert shown["gate1_report"] is None  # none written beside it
    (run,) = shown["trading_runs"]
    assert (run["run_id"], run["mode"], run["account"], run["symbol"]) == (
        "paper_1", "paper", "paper:paper_1", "EDGE/USDT",
    )  # fmt: skip
    assert run["last_mark"]["equity"] == "10100"

    wrong = cli("strategy", "demote", "alpha", "--to", "paper_candidate", "--reason", "x")
    assert wrong.code == 3 and wrong.error["code"] == "stage_move_refused"
    assert "paper, retired" in wrong.error["suggestion"]
    demoted = cli("strategy", "demote", "alpha", "--reason", "lags its backtest")
    assert demoted.code == 0 and (demoted.json["stage"], demoted.json["account"]) == ("paper", None)
    assert demoted.json["history"][-1]["reason"] == "lags its backtest"

    retired = cli("strategy", "retire", "alpha", "--reason", "done")
    assert retired.code == 0 and retired.json["stage"] == "retired"
    again = cli("strategy", "retire", "alpha", "--reason", "done")
    assert again.code == 3 and again.error["code"] == "stage_move_refused"


def test_approving_for_a_live_account_says_the_opt_ins_still_apply(cli, rara_home):
    _candidate(rara_home, "st_cccc000000000003", "gamma", "paper", "live_candidate")
    write_promoted_dir(rara_home, "gamma", "binance:BTC/USDT:1h")
    _accounts(cli)
    r = cli("strategy", "approve", "gamma", "--account", "main")
    assert r.code == 0, r.stdout + r.stderr
    assert r.json["account"] == "main"
    assert "trading.live_enabled" in r.json["note"] and "--live" in r.json["note"]


def test_an_account_that_cannot_trade_the_candidates_market_is_refused(cli, rara_home):
    """For real money another exchange than the one research and the gates judged, a symbol
    outside the account's list, or no files to read the market from: refused at approval,
    stage kept. A testnet account on another exchange may try it."""
    _candidate(rara_home, "st_eeee000000000006", "eta", "paper", "live_candidate")
    _candidate(rara_home, "st_ffff000000000007", "theta", "paper", "live_candidate")
    write_promoted_dir(rara_home, "eta", "binance:BTC/USDT:1h")
    for key, value in [
        ("trading.accounts.kr.exchange", "kraken"),
        ("trading.accounts.kr.mode", "live"),
        ("trading.accounts.kt.exchange", "kraken"),
        ("trading.accounts.eth.exchange", "binance"),
        ("trading.accounts.eth.symbols", '["ETH/USDT"]'),
        ("trading.accounts.tn.exchange", "binance"),
    ]:
        assert cli("config", "set", key, value).code == 0
    other = cli("strategy", "approve", "eta", "--account", "kr")
    assert other.code == 3 and other.error["code"] == "account_market_mismatch"
    assert "binance" in other.error["message"] and "kraken" in other.error["message"]
    outside = cli("strategy", "approve", "eta", "--account", "eth")
    assert outside.code == 3 and outside.error["code"] == "symbol_not_in_account"
    assert "BTC/USDT" in outside.error["suggestion"]
    no_files = cli("strategy", "approve", "theta", "--account", "tn")
    assert no_files.code != 0 and "manifest" in json.dumps(no_files.error)
    for name in ("eta", "theta"):
        assert cli("strategy", "show", name).json["stage"] == "live_candidate"
    tried = cli("strategy", "approve", "eta", "--account", "kt")  # kraken's testnet
    assert tried.code == 0 and (tried.json["stage"], tried.json["account"]) == ("live", "kt")


def test_an_unknown_or_ambiguous_strategy_is_bad_input(cli, rara_home):
    _candidate(rara_home, "st_dddd000000000004", "delta")
    _candidate(rara_home, "st_dddd000000000005", "epsilon")
    unknown = cli("strategy", "show", "zeta")
    assert unknown.code == 2 and unknown.error["code"] == "unknown_strategy"
    ambiguous = cli("strategy", "retire", "st_dddd", "--reason", "x")
    assert ambiguous.code == 2 and ambiguous.error["code"] == "ambiguous_strategy"
    bad_stage = cli("strategy", "list", "--stage", "nowhere")
    assert bad_stage.code == 2


def test_a_real_promotion_is_listed_with_its_stage_and_shown_with_its_reports(cli, rara_home):
    kit = planted_edge_home(rara_home, cli)
    kit.research(cli)
    listed = [
        json.loads(x) for x in cli("strategy", "list", "--origin", "promoted").stdout.splitlines()
    ]
    assert listed and all(r["stage"] == "paper_candidate" and r["in_lifecycle"] for r in listed)
    shipped = [
        json.loads(x) for x in cli("strategy", "list", "--origin", "example").stdout.splitlines()
    ]
    assert shipped and all(r["stage"] is None and not r["in_lifecycle"] for r in shipped)
    assert all(r["strategy_id"].startswith("st_") for r in shipped)
    first = listed[0]
    shown = cli("strategy", "show", first["strategy_id"]).json
    assert shown["manifest"]["sha256"] == first["sha256"] and shown["trading_runs"] == []
    assert shown["gate1_report"]["strategy_id"] == first["strategy_id"]
    assert shown["gate2_report"] is None
    with open_event_store(rara_home / "rara.db") as store:  # the daemon starts paper trading it
        move(store, Lifecycle(store), first["strategy_id"], "paper", reason="start", by="daemon")
    again = cli("strategy", "list", "--origin", "promoted").stdout.splitlines()
    assert json.loads(again[0])["stage"] == "paper"  # the lifecycle's, not the manifest's
