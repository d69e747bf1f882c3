"""The trading state and locks as events (`rara.trading.control`): they survive a restart (a new
`Control` on the same database sees them), reach a `Control` already running through `refresh()`,
and feed the risk gate; a lock with an end lapses; refusals say why."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest

from rara.domain.events import TradingFeedStale, TradingStateChanged
from rara.domain.orders import OrderIntent, OrderRequest
from rara.errors import BadInput, Refused
from rara.events import EventFilter, EventStore, open_event_store
from rara.home import Home
from rara.trading.control import Control, kill, reduce, release_lock, resume, set_lock
from rara.trading.risk import AccountView, Allow, Deny, FeedView, PositionView, judge
from rara.trading_settings import RiskSettings

H = 3_600_000
NOW = 1_717_243_200_000  # 2024-06-01 12:00 UTC
STALE = TradingFeedStale(
    exchange="binance",
    symbol="BTC/USDT",
    timeframe="1h",
    stale=True,
    last_bar_ms=NOW - 3 * H,
    since_ms=NOW,
)


@pytest.fixture
def db(rara_home: Path) -> Path:
    rara_home.mkdir(parents=True, exist_ok=True)
    return Home.from_env().state_db


@pytest.fixture
def store(db: Path) -> Iterator[EventStore]:
    with open_event_store(db) as s:
        yield s


def restarted(db: Path) -> Control:
    """A fresh process's view: a new connection and a new projection (loaded, then closed)."""
    with open_event_store(db, readonly=True) as s:
        return Control(s)


def test_a_fresh_home_is_active_with_no_locks(store: EventStore) -> None:
    control = Control(store)
    assert (control.state, control.kill_seq, control.flatten, control.locks()) == (
        "ACTIVE",
        None,
        False,
        (),
    )
    assert control.refresh() is False


def test_a_kill_survives_a_restart_until_resumed(store: EventStore, db: Path) -> None:
    ev = kill(store, "exchange outage", flatten=True, by="cli")
    after = restarted(db)
    assert (after.state, after.kill_seq, after.flatten) == ("HALTED", ev.seq, True)
    assert after.snapshot().reason == "exchange outage"
    payload = ev.typed()
    assert isinstance(payload, TradingStateChanged) and payload.previous == "ACTIVE"
    # a second kill (now without flatten) is the one that counts
    again = kill(store, "still down", by="cli")
    assert (restarted(db).kill_seq, restarted(db).flatten) == (again.seq, False)
    back = resume(store, by="cli")
    after = restarted(db)
    assert (after.state, after.kill_seq, after.seq) == ("ACTIVE", None, back.seq)
    assert store.verify().ok


def test_refresh_sees_what_another_connection_wrote(store: EventStore, db: Path) -> None:
    control = Control(store)
    with open_event_store(db) as other:  # the `rara kill` process
        other.append(STALE, source="trading")  # not a control event: skipped
        ev = kill(other, "from elsewhere", by="cli")
    assert control.state == "ACTIVE"
    assert control.refresh() is True
    assert (control.state, control.kill_seq) == ("HALTED", ev.seq)
    assert control.refresh() is False  # nothing new: nothing read again


def test_refresh_reads_only_control_events_after_the_last(store: EventStore) -> None:
    control = Control(store)
    kill(store, "one", by="cli")
    resume(store, by="cli")
    control.refresh()
    assert control.seq == store.last_seq()
    store.append(STALE, source="trading")
    assert control.refresh() is False and control.seq == store.last_seq() - 1
    ev = reduce(store, "reconciliation mismatch", by="reconcile")
    assert control.refresh() and control.seq == ev.seq and control.state == "REDUCING"
    states = store.query(EventFilter(types=[TradingStateChanged]))
    assert [e.typed().state for e in states] == ["HALTED", "ACTIVE", "REDUCING"]  # type: ignore[union-attr]


def test_resume_and_reduce_refusals(store: EventStore) -> None:
    with pytest.raises(Refused) as exc:
        resume(store, by="cli")
    assert exc.value.code == "trading_not_halted"
    kill(store, "stop", by="cli")
    with pytest.raises(Refused) as exc:
        reduce(store, "a guard", by="drawdown")
    assert exc.value.code == "trading_halted"
    assert Control(store).state == "HALTED"
    resume(store, by="cli")
    reduce(store, "a guard", by="drawdown")
    assert resume(store, by="cli").typed().previous == "REDUCING"  # type: ignore[union-attr]
    with pytest.raises(BadInput):
        kill(store, "  ", by="cli")


def test_locks_survive_a_restart_lapse_and_release(store: EventStore, db: Path) -> None:
    g = set_lock(store, "global", None, until_ms=NOW + H, reason="maintenance", by="cli")
    s = set_lock(store, "symbol", "BTC/USDT", until_ms=None, reason="delisting", by="sentinel")
    st = set_lock(
        store, "strategy", "sma-1a2b", until_ms=NOW + 2 * H, reason="diverged", by="sentinel"
    )
    after = restarted(db)
    assert [lock.lock_id for lock in after.locks()] == [g.lock_id, s.lock_id, st.lock_id]
    assert [lock.lock_id for lock in after.locks(NOW + H)] == [s.lock_id, st.lock_id]
    assert [lock.lock_id for lock in after.locks(NOW + 2 * H)] == [s.lock_id]
    assert after.snapshot(NOW + 2 * H).locks == after.locks(NOW + 2 * H)
    release_lock(store, s.lock_id, reason="relisted", by="cli")
    after = restarted(db)
    assert [lock.lock_id for lock in after.locks(NOW + 2 * H)] == []
    assert after.locks()[0].set_by == "cli" and after.locks()[1].reason == "diverged"
    with pytest.raises(Refused) as exc:
        release_lock(store, s.lock_id, reason="twice", by="cli")
    assert exc.value.code == "lock_not_found"


def test_setting_a_lock_id_again_replaces_it(store: EventStore) -> None:
    set_lock(store, "global", None, until_ms=NOW, reason="short", by="sentinel", lock_id="dd")
    set_lock(store, "global", None, until_ms=None, reason="longer", by="sentinel", lock_id="dd")
    (lock,) = Control(store).locks()
    assert (lock.until_ms, lock.reason) == (None, "longer")


def test_a_lock_needs_a_target_in_its_scope(store: EventStore) -> None:
    with pytest.raises(BadInput):
        set_lock(store, "global", "BTC/USDT", until_ms=None, reason="x", by="cli")
    with pytest.raises(BadInput):
        set_lock(store, "symbol", None, until_ms=None, reason="x", by="cli")
    assert store.last_seq() == 0


def _buy(strategy_id: str = "sma-1a2b") -> OrderIntent:
    return OrderIntent(
        seq=3,
        strategy_id=strategy_id,
        correlation_id="paper-1",
        request=OrderRequest(
            client_order_id="rara3", symbol="BTC/USDT", side="buy", order_type="market", cost="500"
        ),
        reason="entry",
        signal_bar_ms=NOW - H,
        mark_price=D("67000"),
    )


def _account(now_ms: int) -> AccountView:
    return AccountView(
        now_ms=now_ms,
        quote_currency="USDT",
        cash=D(9000),
        cash_free=D(9000),
        positions={"BTC/USDT": PositionView(quantity=D("0.01"), mark=D("67000"))},
        peak_equity=D(9670),
        feeds={"BTC/USDT": FeedView(last_bar_ms=now_ms - H, interval_ms=H)},
    )


def test_the_gate_judges_with_the_persisted_state(store: EventStore, db: Path) -> None:
    limits = RiskSettings()
    lock = set_lock(
        store, "strategy", "sma-1a2b", until_ms=NOW + H, reason="diverged", by="sentinel"
    )
    verdict = judge(restarted(db).snapshot(), _account(NOW), _buy(), limits)
    assert isinstance(verdict, Deny) and verdict.context["lock_id"] == lock.lock_id
    assert judge(restarted(db).snapshot(), _account(NOW), _buy("other"), limits) == Allow()
    # lapsed on the engine's bar clock
    assert judge(restarted(db).snapshot(), _account(NOW + H), _buy(), limits) == Allow()
    kill(store, "stop", by="cli")
    sell = _buy().request.model_copy(update={"side": "sell", "cost": None, "quantity": D("0.01")})
    exit_ = _buy().model_copy(update={"request": sell, "reason": "exit"})
    verdict = judge(restarted(db).snapshot(), _account(NOW + H), exit_, limits)
    assert isinstance(verdict, Deny) and verdict.code == "trading_halted"


def test_an_order_journaled_after_a_kill_is_not_sent(store: EventStore, db: Path) -> None:
    control = Control(store)  # the engine looked before the kill...
    assert control.state == "ACTIVE"
    before = store.append(STALE, source="trading")  # (stands in for an order journaled earlier)
    with open_event_store(db) as other:
        ev = kill(other, "stop now", flatten=True, by="cli")
    after = store.append(STALE, source="trading")  # ...and journaled its order after it
    assert control.halted_before(after.seq) is True and control.kill_seq == ev.seq
    assert control.halted_before(after.seq, reason="flatten") is False  # the kill asked for it
    assert control.halted_before(before.seq) is False
    resume(store, by="cli")
    assert control.halted_before(store.last_seq() + 1) is False
