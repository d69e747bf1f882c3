"""`rara kill`, `rara resume`, `rara locks` and `rara lock set|release` through the real CLI (a
fresh interpreter each), and the state a `Control` in this process sees afterwards: what a
running engine in another process would read before its next order."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rara.events import open_event_store
from rara.home import Home
from rara.trading.control import Control
from tests.kit.cli import CliResult, tree_snapshot

Cli = Callable[..., CliResult]


def test_kill_then_resume_needs_confirm(cli: Cli, rara_home: Path) -> None:
    assert cli("locks").json["state"] == "ACTIVE"
    assert tree_snapshot(rara_home) == {}  # a read creates nothing

    killed = cli("kill", "--flatten", "--reason", "exchange outage")
    assert killed.code == 0, killed.stderr
    out = killed.json
    assert (out["state"], out["previous"], out["flatten"]) == ("HALTED", "ACTIVE", True)
    with open_event_store(Home.from_env().state_db) as store:
        control = Control(store)  # a running engine's view
        assert (control.state, control.kill_seq, control.flatten) == ("HALTED", out["seq"], True)

        refused = cli("resume")
        assert refused.code == 3 and refused.error["code"] == "resume_unconfirmed"
        assert "--confirm" in refused.error["suggestion"]
        assert control.refresh() is False and control.state == "HALTED"
        assert cli("locks").json["state"] == "HALTED"  # and it stays, across processes

        resumed = cli("resume", "--confirm")
        assert resumed.code == 0, resumed.stderr
        assert (resumed.json["state"], resumed.json["previous"]) == ("ACTIVE", "HALTED")
        assert control.refresh() is True
        assert (control.state, control.kill_seq, control.seq) == (
            "ACTIVE",
            None,
            resumed.json["seq"],
        )

    again = cli("resume", "--confirm")
    assert again.code == 3 and again.error["code"] == "trading_not_halted"
    no_reason = cli("kill")
    assert no_reason.code == 2 and no_reason.error["code"] == "usage"


def test_lock_set_list_release(cli: Cli) -> None:
    made = cli(
        "lock",
        "set",
        "--scope",
        "symbol",
        "--target",
        "eth-usdt",
        "--for",
        "2h",
        "--reason",
        "delisting",
    )
    assert made.code == 0, made.stderr
    lock = made.json
    assert (lock["scope"], lock["target"], lock["active"]) == ("symbol", "ETH/USDT", True)
    listed = cli("locks").json
    assert [x["lock_id"] for x in listed["locks"]] == [lock["lock_id"]]
    with open_event_store(Home.from_env().state_db, readonly=True) as store:
        assert [x.lock_id for x in Control(store).locks()] == [lock["lock_id"]]

    gone = cli("lock", "release", lock["lock_id"], "--reason", "relisted")
    assert gone.code == 0 and gone.json["lock_id"] == lock["lock_id"]
    assert cli("locks").json["locks"] == []
    missing = cli("lock", "release", lock["lock_id"])
    assert missing.code == 3 and missing.error["code"] == "lock_not_found"
    bad = cli("lock", "set", "--scope", "global", "--for", "soon", "--reason", "x")
    assert bad.code == 2 and bad.error["code"] == "bad_duration"
