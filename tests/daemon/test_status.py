"""`rara status` through the real CLI: on a fresh home (everything empty, nothing created), and
after a daemon's status rows, its lock, a strategy candidate, a research pause and a kill switch
are in the home."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from rara.daemon.instance import instance_lock
from rara.daemon.status import ComponentStatus, StatusWriter, read_status
from rara.domain.events import ResearchStrategyCandidate, TradingWindDown
from rara.domain.lifecycle import STAGES
from rara.events import open_event_store
from rara.feedback.lifecycle import Lifecycle, move
from rara.home import Home
from rara.research.pause import pause_research
from rara.trading.control import kill
from tests.kit.cli import CliResult, tree_snapshot
from tests.kit.daemon import write_live_candidate

Cli = Callable[..., CliResult]


def test_status_on_a_fresh_home_is_empty_and_creates_nothing(cli: Cli, rara_home: Path) -> None:
    out = cli("status")
    assert out.code == 0, out.stderr
    assert out.json == {
        "daemon": {"running": False, "last": None},
        "components": [],
        "strategies": {stage: [] for stage in STAGES},
        "trading_state": {"state": "ACTIVE", "reason": "", "flatten": False, "state_seq": None},
        "research": {"paused": False, "by": None, "reason": "", "seq": None, "since": None},
        "locks": [],
        "positions": [],
        "wind_downs_pending": [],
        "last_events": [],
    }
    assert tree_snapshot(rara_home) == {}
    bad = cli("status", "--events", "0")
    assert bad.code == 2 and bad.error["code"] == "bad_events"


def test_status_shows_the_daemon_its_components_strategies_and_events(cli: Cli) -> None:
    home = Home.from_env()
    with open_event_store(home.state_db) as store:
        store.append(
            ResearchStrategyCandidate(
                experiment_id="run-1-0001",
                name="donchian_breakout_1",
                path="strategies/promoted/donchian_breakout_1",
                stage="paper_candidate",
                trial_ids={"train": "tr_1"},
            ),
            source="research",
            strategy_id="strat_1",
        )
        paused = pause_research(store, by="ops", reason="reviewing the last run")
        kill(store, "exchange outage", by="cli", source="cli")
    with StatusWriter(home.state_db, "daemon_old") as old:
        old.started(1, {})
        old.components(
            [ComponentStatus(name="gone", kind="research", state="running", restarts=0, idle_s=0.0)]
        )
    with StatusWriter(home.state_db, "daemon_now") as status:
        status.started(os.getpid(), {"paper_only": True, "feed": "replay"})
        status.components(
            [
                ComponentStatus(
                    name="research",
                    kind="research",
                    state="running",
                    restarts=1,
                    idle_s=0.5,
                    detail="trial 3",
                    last_error="RuntimeError: boom",
                ),
                ComponentStatus(
                    name="sentinel", kind="sentinel", state="stalled", restarts=0, idle_s=301.0
                ),
            ]
        )
        status.ready()

        with instance_lock(home):  # this test process is the daemon now
            out = cli("status", "--events", "1")
        assert out.code == 0, out.stderr
        daemon = out.json["daemon"]
        assert daemon["running"] is True and daemon["pid"] == os.getpid()
        assert daemon["daemon_id"] == "daemon_now" and daemon["ready"] is not None
        assert daemon["options"] == {"feed": "replay", "paper_only": True}
        assert daemon["heartbeat_age_s"] >= 0
        comps = {c["name"]: c for c in out.json["components"]}
        assert set(comps) == {"research", "sentinel"}  # the killed run's rows are gone
        assert (comps["research"]["restarts"], comps["research"]["last_error"]) == (
            1,
            "RuntimeError: boom",
        )
        assert comps["sentinel"]["state"] == "stalled"
        [cand] = out.json["strategies"]["paper_candidate"]
        assert (cand["strategy_id"], cand["name"]) == ("strat_1", "donchian_breakout_1")
        assert out.json["trading_state"]["state"] == "HALTED"
        assert out.json["research"] == {
            "paused": True,
            "by": "ops",
            "reason": "reviewing the last run",
            "seq": paused.seq,
            "since": paused.ts,
        }
        assert [e["type"] for e in out.json["last_events"]] == ["trading_state_changed"]

        status.stopped()
    after = cli("status").json["daemon"]
    assert after["running"] is False
    assert after["last"]["daemon_id"] == "daemon_now" and after["last"]["stopped_ts"]
    assert read_status(home)["process"]["pid"] == os.getpid()


def test_status_lists_the_wind_downs_still_pending(cli: Cli) -> None:
    """A strategy demoted out of live is listed until an ending ``trading_wind_down`` names its
    move: what a --paper-only daemon leaves as it is."""
    home = Home.from_env()
    sid = "st_cccc000000000003"
    with open_event_store(home.state_db) as store:
        write_live_candidate(store, sid)
        move(store, Lifecycle(store), sid, "live", reason="ok", by="ops", account="tn")
        out = move(store, Lifecycle(store), sid, "paper", reason="drawdown", by="feedback")
    (pending,) = cli("status").json["wind_downs_pending"]
    assert (pending["strategy_id"], pending["account"], pending["since_seq"]) == (
        sid, "tn", out.seq,
    )  # fmt: skip
    assert "drawdown" in pending["why"]
    with open_event_store(home.state_db) as store:
        store.append(
            TradingWindDown(
                strategy_id=sid, account="tn", symbol="BTC/USDT", step="flat", demotion_seq=out.seq
            ),
            source="daemon",
            strategy_id=sid,
        )
    assert cli("status").json["wind_downs_pending"] == []
