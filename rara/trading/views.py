"""What `rara paper status`, `rara positions` and `rara orders` show: read-only views of the
event log (sessions, equity marks, the order journal) and the ledger. Nothing here writes.

Rows are plain JSON values (decimals as strings), newest first where a list is long.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rara.domain.events import (
    TradingEquityMarked,
    TradingOrderRejected,
    TradingSessionEnded,
    TradingSessionStarted,
)
from rara.domain.market import ms_to_iso
from rara.events import EventFilter, EventStore
from rara.home import Home
from rara.ledger import open_ledger
from rara.trading.journal import ORDER_EVENTS, Deployment, ManagedOrder, replay
from rara.trading.parity import payloads_of
from rara.trading_settings import ledger_account_of

Row = dict[str, Any]


def _store(home: Home) -> EventStore:
    return EventStore(home.state_db, readonly=True)


def _sessions(store: EventStore) -> dict[str, Row]:
    """Every trading run by id: how it started, and how it last ended (None: running or cut)."""
    runs: dict[str, Row] = {}
    types = [TradingSessionStarted, TradingSessionEnded]
    for ev in store.iter_query(EventFilter(types=types)):
        p = ev.typed()
        if isinstance(p, TradingSessionStarted):
            row = runs.setdefault(p.run_id, {"started_at": ev.ts, "restarts": 0})
            row.update(p.model_dump(mode="json", exclude={"resumed"}))
            row["restarts"] += int(p.resumed)
            row["ended"] = None
        elif isinstance(p, TradingSessionEnded) and p.run_id in runs:
            runs[p.run_id]["ended"] = {"reason": p.reason, "at": ev.ts, "bars": p.bars}
    return runs


def paper_runs(home: Home, limit: int) -> Iterator[Row]:
    """Paper runs, newest first, each with its last equity mark."""
    if not home.state_db.exists():
        return
    with _store(home) as store:
        runs = _sessions(store)
        for run_id in list(reversed(runs))[:limit]:
            row = runs[run_id]
            if row.get("mode") != "paper":
                continue
            marks = payloads_of(store, run_id, TradingEquityMarked)
            # the last bar is marked again when the run ends
            row["bars_marked"] = len({m.bar_ms for m in marks})
            row["last_mark"] = marks[-1].model_dump(mode="json") if marks else None
            yield row


def positions(home: Home, account: str | None) -> Iterator[Row]:
    """Each account's non-quote holdings with cost and realized PnL (from the ledger), valued
    at the account's last equity mark."""
    if not home.state_db.exists():
        return
    with _store(home) as store, open_ledger(home.state_db, readonly=True) as ledger:
        runs = _sessions(store)
        by_account = {r["account"]: r for r in runs.values() if "account" in r}
        for name in ledger.accounts():
            if account is not None and name != account:
                continue
            run = by_account.get(name)
            balances = ledger.balances(name)
            row: Row = {"account": name, "balances": {k: str(v) for k, v in balances.items()}}
            if run is not None:
                pos = ledger.position(name, run["symbol"])
                marks = payloads_of(store, run["run_id"], TradingEquityMarked)
                mark = marks[-1].mark if marks else None
                row.update(
                    exchange=run["exchange"],
                    symbol=run["symbol"],
                    strategy_id=run["strategy_id"],
                    quantity=str(pos.quantity),
                    entry_cost=str(pos.entry_cost),
                    realized_pnl=str(pos.realized_pnl),
                    mark=None if mark is None else str(mark),
                    unrealized_pnl=None if mark is None else str(pos.unrealized_pnl(mark)),
                )
            yield row


def orders(
    home: Home, run_id: str | None, only_open: bool, limit: int, account: str | None = None
) -> Iterator[Row]:
    """Orders from the journal, newest first; a gate's denial names its guard and numbers.
    `account` is a ledger account (``paper:<run>``, ``testnet:<name>``) or a configured
    account's name (its testnet and live ledgers both)."""
    if not home.state_db.exists():
        return
    with _store(home) as store:
        runs = _sessions(store)
        out: list[Row] = []
        for rid, run in runs.items():
            if run_id is not None and rid != run_id:
                continue
            if account is not None and run["account"] not in (
                account,
                ledger_account_of("testnet", account),
                ledger_account_of("live", account),
            ):
                continue
            dep = Deployment(
                run_id=rid,
                strategy_id=run["strategy_id"],
                account=run["account"],
                exchange=run["exchange"],
                mode=run["mode"],
                symbol=run["symbol"],
            )
            flt = EventFilter(types=list(ORDER_EVENTS), correlation_id=rid)
            events = list(store.iter_query(flt))
            denials = {
                p.client_order_id: p.context
                for p in (ev.typed() for ev in events)
                if isinstance(p, TradingOrderRejected) and p.rejected_by != "venue"
            }
            for order in replay(dep, events).orders.values():
                if only_open and not order.is_open:
                    continue
                row = _order_row(rid, order, denials.get(order.client_order_id))
                out.append({**row, "account": run["account"], "strategy_id": run["strategy_id"]})
        out.sort(key=lambda r: (r["signal_bar_ms"] or 0, r["seq"]), reverse=True)
        yield from out[:limit]


def _order_row(run_id: str, order: ManagedOrder, denial: dict[str, str] | None) -> Row:
    row: Row = {"run_id": run_id, **order.model_dump(mode="json")}
    if denial is not None:
        row["denied_by"] = {k: v for k, v in denial.items() if not k.startswith("intent.")}
    return row


def trading_runs(store: EventStore, sid: str) -> list[dict[str, Any]]:
    """Each deployment of `sid` (its `TradingSessionStarted` events, a resumed run once) with
    the last equity mark of the run."""
    runs: dict[str, dict[str, Any]] = {}
    started = EventFilter(types=[TradingSessionStarted], strategy_id=sid)
    for ev in store.query(started):
        p = ev.typed()
        assert isinstance(p, TradingSessionStarted)
        if p.run_id in runs:
            runs[p.run_id]["resumed"] += 1
            continue
        runs[p.run_id] = {
            "run_id": p.run_id,
            "mode": p.mode,
            "account": p.account,
            "symbol": p.symbol,
            "timeframe": p.timeframe,
            "feed": p.feed,
            "started": ev.ts,
            "resumed": 0,
            "last_mark": None,
        }
    for run_id, row in runs.items():
        marks = store.query(EventFilter(types=[TradingEquityMarked], correlation_id=run_id))
        if marks:
            m = marks[-1].typed()
            assert isinstance(m, TradingEquityMarked)
            row["last_mark"] = {
                "bar": ms_to_iso(m.bar_ms),
                "equity": str(m.equity),
                "peak_equity": str(m.peak_equity),
            }
    return list(runs.values())
