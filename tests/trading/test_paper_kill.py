"""Acceptance 3 of issue 12, the kill switch across processes: a paced `rara paper run` in one
process is halted by `rara kill --flatten` from another. From the kill's event seq on, nothing
reaches the venue but the flatten sell (an order the gate let through just before the kill is
canceled unsent); the engine cancels the orders open at the kill and sells the position. The
state outlives the run: a new process still reports HALTED, the same run restarted sends
nothing, and `rara resume --confirm` lets it trade again."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from rara.domain.orders import OrderIntent, OrderRequest
from rara.events import open_event_store
from rara.home import Home
from rara.trading.control import kill
from rara.trading.session import PaperSession
from tests.kit.cli import Cli
from tests.kit.paper import (
    ALWAYS_LONG,
    Journaled,
    bars_marked,
    btc_session,
    journal,
    paper_run_args,
    venue_orders,
)
from tests.kit.patience import patience

RUN = "paper_kill_test"
ACCOUNT = f"paper:{RUN}"
BARS_PER_S = 15  # paced: the kill lands mid-run, the run stops before it ends
OPEN = ("acknowledged", "partially_filled")


@pytest.fixture
def procs(rara_home: Path) -> Iterator[Cli]:
    cli = Cli(rara_home)
    try:
        yield cli
    finally:
        cli.close()


def _wait_for(what: str, ready: Callable[[], bool], proc: subprocess.Popen[str]) -> None:
    """Poll `ready()` until true; fail if the run exits first or it takes far too long."""
    deadline = time.monotonic() + patience(20)
    while not ready():
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"the run exited ({proc.returncode}) before {what}: {err[-2000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def _interrupt(proc: subprocess.Popen[str]) -> None:
    """Stop a run the way Ctrl-C does (it keeps every bar it marked)."""
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=patience(5))


def _orders(home: Path) -> dict[str, list[Journaled]]:
    """The run's order events by client order id."""
    types = ("trading_order_submitted", "trading_order_updated", "trading_order_filled")
    out: dict[str, list[Journaled]] = {}
    for ev in journal(home, RUN, *types, "trading_order_rejected"):
        out.setdefault(ev.payload["client_order_id"], []).append(ev)
    return out


def _open_at(events: list[Journaled], seq: int) -> bool:
    """Whether the order of `events` was sent and still open at event `seq`."""
    state = None
    for ev in events:
        if ev.seq > seq:
            break
        if ev.type == "trading_order_submitted":
            state = "submitted"
        elif ev.type == "trading_order_updated":
            state = ev.payload["status"]
        elif ev.type == "trading_order_rejected":
            state = "rejected"
    return state in OPEN


def _last_mark(home: Path) -> dict[str, Any]:
    return journal(home, RUN, "trading_equity_marked")[-1].payload


def test_kill_from_another_process_halts_a_running_replay(
    procs: Cli, rara_home: Path, tmp_path: Path
) -> None:
    strategy = tmp_path / "always_long.py"
    strategy.write_text(ALWAYS_LONG)
    args = paper_run_args(
        str(strategy),
        "2024-03-01",
        "2024-04-10",
        "--speed",
        str(3600 * BARS_PER_S),
        "--quiet",
        "--no-compare",
        "--run-id",
        RUN,
    )
    first = procs.popen(*args)

    def long_with_stops() -> bool:
        marks = journal(rara_home, RUN, "trading_equity_marked")
        if len(marks) < 20 or float(marks[-1].payload["position"]) <= 0:
            return False
        return any(o["state"] in OPEN for o in venue_orders(rara_home, ACCOUNT))

    _wait_for("a position with its stops open", long_with_stops, first)
    killed = procs.run("kill", "--flatten", "--reason", "acceptance 3")
    assert killed.code == 0, killed.err
    kill_seq = killed.out["seq"]
    marked_at_kill = len(journal(rara_home, RUN, "trading_equity_marked"))

    def seen_for(bars: int) -> Callable[[], bool]:
        return lambda: bars_marked(rara_home, RUN) >= marked_at_kill + bars

    _wait_for("bars marked after the kill", seen_for(15), first)
    _interrupt(first)

    # Nothing journaled after the kill reached the venue but the flatten sell.
    orders = _orders(rara_home)
    sent = {o["client_order_id"]: o for o in venue_orders(rara_home, ACCOUNT)}
    submitted = {
        cid: evs[0] for cid, evs in orders.items() if evs[0].type == "trading_order_submitted"
    }
    after = {cid: ev for cid, ev in submitted.items() if ev.seq > kill_seq}
    flatten = [cid for cid, ev in after.items() if ev.payload["reason"] == "flatten"]
    assert len(flatten) == 1, after
    for cid in after:
        if cid in flatten:
            continue
        assert cid not in sent, f"{cid} journaled after the kill reached the venue"
        last = orders[cid][-1]
        assert last.type == "trading_order_updated", orders[cid]
        assert last.payload["status"] == "canceled"
        assert last.payload["detail"] == "not sent: trading halted"
    denied = [
        evs[0]
        for evs in orders.values()
        if evs[0].type == "trading_order_rejected" and evs[0].seq > kill_seq
    ]
    assert all(ev.payload["reason_code"] == "trading_halted" for ev in denied), denied
    # What was open at the kill the engine canceled (a stop crossed in the bar it saw the
    # kill may have filled first); nothing is left open at the venue.
    was_open = [cid for cid, evs in orders.items() if _open_at(evs, kill_seq)]
    assert was_open, "the kill landed with no order open"
    ended = {cid: sent[cid]["state"] for cid in was_open}
    assert "canceled" in ended.values(), ended
    assert set(ended.values()) <= {"canceled", "filled"}, ended
    assert not [o for o in sent.values() if o["state"] in OPEN]
    assert sent[flatten[0]]["state"] == "filled"
    assert float(_last_mark(rara_home)["position"]) == 0

    # A new process sees the state the kill left.
    locks = procs.run("locks")
    assert locks.code == 0, locks.err
    assert (locks.out["state"], locks.out["state_seq"]) == ("HALTED", kill_seq)

    # The same run again: it resumes after its last bar and sends nothing while halted.
    venue_before = len(venue_orders(rara_home, ACCOUNT))
    marked_before = bars_marked(rara_home, RUN)
    second = procs.popen(*args)
    marked_at_kill = marked_before
    _wait_for("bars marked by the restarted run", seen_for(30), second)
    restarted = journal(rara_home, RUN, "trading_session_started")[-1]
    assert restarted.payload["resumed"] is True
    assert len(venue_orders(rara_home, ACCOUNT)) == venue_before
    assert journal(rara_home, RUN, "trading_order_rejected")[-1].seq > restarted.seq

    # Resumed by a person, the running replay trades again.
    resumed = procs.run("resume", "--confirm")
    assert resumed.code == 0, resumed.err
    resume_seq = resumed.out["seq"]

    def sends_again() -> bool:
        new = journal(rara_home, RUN, "trading_order_submitted")
        cids = {o["client_order_id"] for o in venue_orders(rara_home, ACCOUNT)}
        return any(ev.seq > resume_seq and ev.payload["client_order_id"] in cids for ev in new)

    _wait_for("an order sent after the resume", sends_again, second)
    _interrupt(second)
    halted = [
        ev
        for ev in journal(rara_home, RUN, "trading_order_submitted")
        if kill_seq < ev.seq < resume_seq and ev.payload["reason"] != "flatten"
    ]
    cids = {o["client_order_id"] for o in venue_orders(rara_home, ACCOUNT)}
    assert not [ev for ev in halted if ev.payload["client_order_id"] in cids]


def test_an_order_journaled_before_a_crash_is_not_sent_after_a_kill(
    rara_home: Path, tmp_path: Path
) -> None:
    """Regression: a run that died between journaling an order and sending it, restarted after
    a `rara kill`, sent that order (the restart resolves unsent orders by sending them)."""
    strategy = tmp_path / "always_long.py"
    strategy.write_text(ALWAYS_LONG)

    def session() -> PaperSession:
        return btc_session(strategy, run_id=RUN)

    def crash(seq: int) -> bool:
        raise SystemExit("killed between the journal and the send")

    with session() as first:
        first.run(should_stop=lambda: first.engine.progress.bars >= 3)
        mgr, dep = first.engine.orders, first.deployment
        seq = mgr.next_seq()
        cid = mgr.client_order_id(seq)
        manual = OrderIntent(
            seq=seq,
            strategy_id=dep.strategy_id,
            correlation_id=dep.run_id,
            request=OrderRequest(
                client_order_id=cid,
                symbol=dep.symbol,
                side="sell",
                order_type="market",
                quantity=D("0.001"),  # a sliver of the position: the venue would take it
                reduce_only=True,
            ),
            reason="manual",
            signal_bar_ms=None,
            mark_price=D(60_000),
        )
        with pytest.raises(SystemExit):
            mgr.submit(manual, may_send=crash)
    with open_event_store(Home.from_env().state_db) as store:
        kill(store, "after the journal, before the send")
    with session() as again:
        assert again.engine.orders.order(cid).state == "canceled"  # type: ignore[union-attr]
        assert again.venue.fetch_order(cid, dep.symbol) is None
    last = _orders(rara_home)[cid][-1]
    assert (last.payload["status"], last.payload["detail"]) == (
        "canceled",
        "not sent: trading halted",
    )
