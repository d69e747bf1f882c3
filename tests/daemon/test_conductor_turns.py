"""``daemon.auto_approve``: the conductor moves a live candidate to live on
``daemon.approve_account`` only when that account can trade the candidate's market (for real
money, the exchange its research judged; a testnet may try it elsewhere), the check a
person's `rara strategy approve` makes; one it cannot trade is held at live candidate with one
``feedback_strategy_hold`` saying why, not one per turn, and not again after a restart. A real
event store and lifecycle; the conductor's turns run with --paper-only, so nothing trades.
And a strategy demoted out of live under --paper-only: its wind-down is left to a daemon that
opens live sessions, and a warning says so once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from rara.config import load_settings
from rara.daemon.conductor import Conductor
from rara.daemon.trading import TradingOptions
from rara.events import EventFilter, EventStore, open_event_store
from rara.feedback.lifecycle import Lifecycle, move
from rara.home import Home
from rara.supervision import Component
from tests.kit.daemon import write_live_candidate

SID = "st_aaaa000000000001"


class NoSupervisor:
    def add(self, component: Component) -> None:
        raise AssertionError(f"nothing should start: {component.name}")

    def remove(self, name: str, timeout_s: float | None = None) -> bool:
        return False


@pytest.fixture
def store(rara_home: Path) -> Iterator[EventStore]:
    rara_home.mkdir(parents=True, exist_ok=True)
    with open_event_store(rara_home / "rara.db") as s:
        yield s


def conductor(rara_home: Path, store: EventStore, exchange: str, mode: str) -> Conductor:
    (rara_home / "config.toml").write_text(
        f"[trading.accounts.main]\nexchange = '{exchange}'\nmode = '{mode}'\n"
        "[daemon]\nauto_approve = true\napprove_account = 'main'\n",
        encoding="utf-8",
    )
    home = Home.from_env()
    settings = load_settings(home)
    return Conductor(
        home, store, lambda: settings, NoSupervisor(), TradingOptions(), paper_only=True
    )


def holds(store: EventStore) -> list[str]:
    return [e.payload["reason"] for e in store.query(EventFilter(types=["feedback_strategy_hold"]))]


def test_a_candidate_the_account_can_trade_goes_live_on_it(
    rara_home: Path, store: EventStore
) -> None:
    write_live_candidate(store, SID, instrument="binance:BTC/USDT:1h")
    conductor(rara_home, store, "kraken", "testnet").step()  # a testnet may try it elsewhere
    rec = Lifecycle(store).get(SID)
    assert rec is not None and (rec.stage, rec.account) == ("live", "main")
    assert holds(store) == []


def test_a_candidate_on_another_exchange_than_real_moneys_is_held_once_and_stays(
    rara_home: Path, store: EventStore
) -> None:
    write_live_candidate(store, SID, instrument="binance:BTC/USDT:1h")
    first = conductor(rara_home, store, "kraken", "live")
    for _ in range(3):
        first.step()
    conductor(rara_home, store, "kraken", "live").step()  # a restarted daemon: the log has the hold
    rec = Lifecycle(store).get(SID)
    assert rec is not None and rec.stage == "live_candidate"
    (reason,) = holds(store)
    assert "main" in reason and "kraken" in reason and "binance" in reason


def test_paper_only_says_once_that_a_pending_wind_down_waits(
    rara_home: Path, store: EventStore, caplog: pytest.LogCaptureFixture
) -> None:
    write_live_candidate(store, SID)
    move(store, Lifecycle(store), SID, "live", reason="ok", by="ops", account="main")
    move(store, Lifecycle(store), SID, "retired", reason="critical", by="feedback")
    turns = conductor(rara_home, store, "binance", "testnet")
    with caplog.at_level(logging.WARNING, logger="rara.daemon.conductor"):
        for _ in range(3):
            turns.step()  # NoSupervisor: a started wind-down would fail the test
    (said,) = [r.getMessage() for r in caplog.records if "--paper-only" in r.getMessage()]
    assert SID in said and "main" in said and "rara status" in said
