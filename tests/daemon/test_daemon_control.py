"""`DaemonControl`, the daemon's side of the server's control calls, on a real event store: each
call writes what the CLI writes for the same request (the trading state, the lifecycle moves, the
research pause), naming the caller's token name, and refuses what the CLI refuses."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from rara.config import load_settings
from rara.daemon.control import DaemonControl
from rara.errors import BadInput, Refused
from rara.events import EventStore, open_event_store
from rara.feedback.lifecycle import Lifecycle
from rara.home import Home
from rara.research.pause import ResearchPause
from rara.trading.control import Control
from tests.kit.daemon import write_live_candidate

SID = "st_aaaa000000000001"


@pytest.fixture
def store(rara_home: Path) -> Iterator[EventStore]:
    rara_home.mkdir(parents=True, exist_ok=True)
    with open_event_store(rara_home / "rara.db") as s:
        yield s


def _control(
    home: Path, store: EventStore, accounts: tuple[str, ...] = ("tn",), mode: str = "testnet"
) -> DaemonControl:
    lines = [f"[trading.accounts.{a}]\nexchange = 'binance'\nmode = '{mode}'\n" for a in accounts]
    (home / "config.toml").write_text("".join(lines), encoding="utf-8")
    settings = load_settings(Home.from_env())
    return DaemonControl(store, lambda: settings, Home.from_env())


def test_kill_and_resume_write_the_trading_state_naming_the_token(
    rara_home: Path, store: EventStore
) -> None:
    control = _control(rara_home, store)
    seq = asyncio.run(control.kill(flatten=True, reason="", by="control"))
    halted = store.get(seq)
    assert halted is not None and halted.type == "trading_state_changed"
    assert halted.source == "server"
    assert halted.payload["state"] == "HALTED" and halted.payload["flatten"] is True
    assert halted.payload["requested_by"] == "control"
    assert halted.payload["reason"] == "kill switch pressed by control"
    projected = Control(store)
    assert projected.kill_seq == seq and projected.flatten  # what the engine acts on
    seq = asyncio.run(control.resume(reason="checked", by="control"))
    assert Control(store).state == "ACTIVE" and store.get(seq) is not None
    with pytest.raises(Refused) as refused:
        asyncio.run(control.resume(reason="", by="control"))
    assert refused.value.code == "trading_not_halted"


def test_approve_and_demote_move_the_lifecycle_like_the_cli(
    rara_home: Path, store: EventStore
) -> None:
    write_live_candidate(store, SID)
    control = _control(rara_home, store)
    with pytest.raises(BadInput) as unknown:
        asyncio.run(control.approve_strategy(strategy_id=SID, account="nope", by="ops"))
    assert unknown.value.code == "unknown_account"
    seq = asyncio.run(control.approve_strategy(strategy_id=SID, account="", by="ops"))
    confirmed = store.get(seq)
    assert confirmed is not None and confirmed.type == "feedback_strategy_confirmed"
    assert confirmed.payload["confirmed_by"] == "ops" and confirmed.payload["account"] == "tn"
    rec = Lifecycle(store).get(SID)
    assert rec is not None and (rec.stage, rec.account) == ("live", "tn")
    with pytest.raises(Refused) as again:
        asyncio.run(control.approve_strategy(strategy_id=SID, account="tn", by="ops"))
    assert again.value.code == "not_a_live_candidate"

    seq = asyncio.run(control.demote_strategy(strategy_id=SID, reason="lags", by="ops"))
    demoted = store.get(seq)
    assert demoted is not None and demoted.payload["to_stage"] == "paper"
    assert (demoted.payload["decided_by"], demoted.payload["reason"]) == ("ops", "lags")
    asyncio.run(control.demote_strategy(strategy_id=SID, reason="", by="ops"))
    rec = Lifecycle(store).get(SID)
    assert rec is not None and rec.stage == "paper_candidate"
    with pytest.raises(Refused) as bottom:
        asyncio.run(control.demote_strategy(strategy_id=SID, reason="x", by="ops"))
    assert bottom.value.code == "stage_move_refused"


def test_an_approval_for_real_money_on_another_exchange_is_refused(
    rara_home: Path, store: EventStore
) -> None:
    write_live_candidate(store, SID, instrument="kraken:BTC/USD:1h")
    control = _control(rara_home, store, mode="live")  # tn trades real money on binance
    with pytest.raises(Refused) as other:
        asyncio.run(control.approve_strategy(strategy_id=SID, account="tn", by="ops"))
    assert other.value.code == "account_market_mismatch"
    rec = Lifecycle(store).get(SID)
    assert rec is not None and rec.stage == "live_candidate"


def test_an_approval_without_an_account_needs_one_when_several_are_configured(
    rara_home: Path, store: EventStore
) -> None:
    write_live_candidate(store, SID)
    control = _control(rara_home, store, accounts=("a", "b"))
    with pytest.raises(BadInput) as which:
        asyncio.run(control.approve_strategy(strategy_id=SID, account="", by="ops"))
    assert which.value.code == "account_required" and "a, b" in which.value.suggestion


def test_pause_and_resume_research_are_events_the_projection_reads(
    rara_home: Path, store: EventStore
) -> None:
    control = _control(rara_home, store)
    with pytest.raises(Refused) as not_paused:
        asyncio.run(control.resume_research(by="ops"))
    assert not_paused.value.code == "research_not_paused"
    seq = asyncio.run(control.pause_research(reason="reviewing", by="ops"))
    state = ResearchPause(store).state
    assert (state.paused, state.by, state.reason, state.seq) == (True, "ops", "reviewing", seq)
    seq = asyncio.run(control.resume_research(by="ops"))
    state = ResearchPause(store).state
    assert (state.paused, state.by, state.seq) == (False, "ops", seq)
    resumed = store.get(seq)
    assert resumed is not None and resumed.type == "research_resumed"
