"""The read RPCs' answers, built from the state DB: the daemon's status table, the event log's
projections (trading state, lifecycle), the ledger and the research store. Rows are parsed into
messages here, once; what `rara status`, `rara strategy show` and `rara positions|orders` compute
is reused from the modules they use (`rara.daemon.status`, `rara.feedback.lifecycle`,
`rara.trading.views`, `rara.feedback.runs`).

Plain blocking functions: the servicer runs them in a worker thread.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from rara.daemon.instance import running_daemon
from rara.daemon.status import read_status
from rara.domain.events import ResearchStrategyCandidate, TradingEquityMarked
from rara.domain.lifecycle import STAGES, Gate2Report
from rara.errors import BadInput
from rara.events import EventFilter, EventStore
from rara.feedback.lifecycle import Lifecycle, StrategyRecord
from rara.feedback.runs import read_run
from rara.home import Home
from rara.research.pause import ResearchPause
from rara.research.store import Experiment, ResearchStore
from rara.trading import views
from rara.trading.control import Control
from rara.v1 import rara_pb2 as pb

DEFAULT_ORDERS = 200
COUNT_ALL = 1_000_000  # "every row" for the views that take a limit
HEALTHY = {"starting", "running"}
TRADING_STATE = {
    "ACTIVE": pb.TRADING_STATE_ACTIVE,
    "REDUCING": pb.TRADING_STATE_REDUCING,
    "HALTED": pb.TRADING_STATE_HALTED,
}


def trading_state(store: EventStore) -> pb.TradingState.ValueType:
    return TRADING_STATE.get(Control(store).state, pb.TRADING_STATE_UNSPECIFIED)


def _age_s(ts: str | None) -> float:
    if not ts:
        return 0.0
    then = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return max(0.0, (datetime.now(UTC) - then).total_seconds())


def _component(row: Mapping[str, Any]) -> pb.Component:
    state = str(row["state"])
    return pb.Component(
        name=str(row["name"]),
        kind=str(row["kind"]),
        state=pb.ComponentState.Value("COMPONENT_STATE_" + state.upper()),
        healthy=state in HEALTHY,
        restarts=int(row["restarts"]),
        idle_s=float(row["idle_s"]),
        detail=str(row["detail"] or ""),
        last_error=str(row["last_error"] or ""),
    )


def get_status(home: Home, store: EventStore, *, read_only: bool) -> pb.GetStatusResponse:
    rows = read_status(home)
    process = rows["process"]
    pid = running_daemon(home)
    running = pid is not None and process is not None and process["pid"] == pid
    components = [_component(r) for r in rows["components"]] if running else []
    lifecycle = Lifecycle(store)
    by_stage: dict[str, int] = {stage: 0 for stage in STAGES}
    for rec in lifecycle.strategies():
        by_stage[rec.stage] += 1
    state = trading_state(store)
    positions = [r for r in views.positions(home, None) if r.get("quantity") not in (None, "0")]
    open_orders = sum(1 for _ in views.orders(home, None, True, COUNT_ALL))
    with ResearchStore(home.state_db) as research:
        experiments = research.count_experiments()
    warnings = []
    if not running:
        warnings.append("no daemon runs on this home: the state shown is what it left")
    if state == pb.TRADING_STATE_HALTED:
        warnings.append(f"trading is halted: {Control(store).snapshot().reason}")
    warnings += [f"component {c.name} is {pb.ComponentState.Name(c.state)[16:].lower()}"
                 for c in components if not c.healthy]  # fmt: skip
    return pb.GetStatusResponse(
        daemon_id=str(process["daemon_id"]) if running and process else "",
        daemon_running=running,
        trading_state=state,
        components=components,
        strategies_by_stage=by_stage,
        open_orders=open_orders,
        open_positions=len(positions),
        experiments=experiments,
        head_seq=store.last_seq(),
        uptime_s=_age_s(process["started_ts"]) if running and process else 0.0,
        warnings=warnings,
        research_paused=ResearchPause(store).paused,
        read_only=read_only,
    )


# ---- strategies ------------------------------------------------------------------------------


def _candidate(store: EventStore, sid: str) -> ResearchStrategyCandidate | None:
    where = EventFilter(types=[ResearchStrategyCandidate], strategy_id=sid)
    for ev in store.query(where, limit=1):
        p = ev.typed()
        if isinstance(p, ResearchStrategyCandidate):
            return p
    return None


def _strategy(
    rec: StrategyRecord, runs: list[dict[str, Any]], exp: Experiment | None
) -> pb.Strategy:
    market: dict[str, str] = {}
    if exp is not None:
        market = {"exchange": exp.exchange, "symbol": exp.symbol, "timeframe": exp.timeframe}
    elif runs:
        market = {k: str(runs[0][k]) for k in ("exchange", "symbol", "timeframe")}
    last = rec.history[-1] if rec.history else None
    accounts = sorted({str(r["account"]) for r in runs} | ({rec.account} if rec.account else set()))
    return pb.Strategy(
        strategy_id=rec.strategy_id,
        name=rec.name,
        stage=rec.stage,
        since=last.ts if last else "",
        reason=last.reason if last else "",
        accounts=accounts,
        **market,
    )


def _runs(store: EventStore, sid: str) -> list[dict[str, Any]]:
    return views.trading_runs(store, sid)


def list_strategies(home: Home, store: EventStore, stage: str) -> pb.ListStrategiesResponse:
    if stage and stage not in STAGES:
        raise BadInput("bad_stage", f"no stage {stage!r}", f"one of {', '.join(STAGES)}")
    out = []
    with ResearchStore(home.state_db) as research:
        for rec in Lifecycle(store).strategies(stage or None):
            cand = _candidate(store, rec.strategy_id)
            exp = research.get(cand.experiment_id) if cand else None
            out.append(_strategy(rec, _runs(store, rec.strategy_id), exp))
    return pb.ListStrategiesResponse(strategies=out)


def _value(v: object) -> pb.CheckValue | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return pb.CheckValue(flag=v)
    if isinstance(v, int | float):
        return pb.CheckValue(number=float(v))
    return pb.CheckValue(text=str(v))


def gate_report(gate: str, report: Mapping[str, Any]) -> pb.GateReport:
    """Gate 1's (`rara.domain.gate.GateReport`) or gate 2's (`Gate2Report`) report as recorded."""
    checks = []
    for c in report.get("checks", []):
        check = pb.GateCheck(
            name=str(c["name"]),
            passed=bool(c["passed"]),
            skipped=bool(c.get("skipped", False)),
            detail=str(c.get("detail", "")),
        )
        for field in ("value", "threshold"):
            value = _value(c.get(field))
            if value is not None:
                getattr(check, field).CopyFrom(value)
        checks.append(check)
    passed = bool(report.get("passed", False))
    return pb.GateReport(
        gate=gate,
        passed=passed,
        decision=str(report.get("decision") or ("passed" if passed else "failed")),
        failed=[str(f) for f in report.get("failed", [])],
        checks=checks,
        report_json=json.dumps(report, sort_keys=True, default=str),
    )


def _metrics(store: EventStore, runs: Iterable[Mapping[str, Any]]) -> list[pb.LiveMetrics]:
    out = []
    for run in runs:
        record = read_run(store, str(run["run_id"]))
        if record is None:
            continue
        r = record.results()
        last = run.get("last_mark") or {}
        out.append(
            pb.LiveMetrics(
                account=str(run["account"]),
                run_id=r.run_id,
                bars=r.bars,
                trades=r.trades,
                days=r.days,
                total_return=(r.final_equity / r.initial_equity - 1)
                if r.final_equity is not None and r.initial_equity
                else 0.0,
                sharpe=r.sharpe or 0.0,
                max_drawdown=r.max_drawdown or 0.0,
                equity=str(last.get("equity", "")),
            )
        )
    return out


def get_strategy(home: Home, store: EventStore, ident: str) -> pb.GetStrategyResponse:
    rec = Lifecycle(store).resolve(ident)
    cand = _candidate(store, rec.strategy_id)
    with ResearchStore(home.state_db) as research:
        exp = research.get(cand.experiment_id) if cand else None
    runs = _runs(store, rec.strategy_id)
    out = pb.GetStrategyResponse(
        strategy=_strategy(rec, runs, exp),
        metrics=_metrics(store, runs),
        experiment_id=cand.experiment_id if cand else "",
    )
    if exp is not None and exp.report is not None:
        out.research_gate.CopyFrom(gate_report("research", exp.report))
    if rec.last_report is not None:
        out.paper_gate.CopyFrom(gate_report("paper", _gate2(rec.last_report)))
    return out


def _gate2(report: Gate2Report) -> dict[str, Any]:
    return report.model_dump(mode="json")


# ---- trading ---------------------------------------------------------------------------------


def _text(v: object) -> str:
    return "" if v is None else str(v)


def list_positions(home: Home, account: str) -> pb.ListPositionsResponse:
    out = []
    for row in views.positions(home, account or None):
        if "symbol" not in row:
            continue  # an account with balances only
        out.append(
            pb.Position(
                account=str(row["account"]),
                exchange=_text(row.get("exchange")),
                symbol=str(row["symbol"]),
                strategy_id=_text(row.get("strategy_id")),
                quantity=_text(row.get("quantity")),
                average_price=_average(row),
                mark=_text(row.get("mark")),
                unrealized_pnl=_text(row.get("unrealized_pnl")),
                realized_pnl=_text(row.get("realized_pnl")),
            )
        )
    return pb.ListPositionsResponse(positions=out)


def _average(row: Mapping[str, Any]) -> str:
    from decimal import Decimal, InvalidOperation

    try:
        qty, cost = Decimal(str(row["quantity"])), Decimal(str(row["entry_cost"]))
    except (KeyError, InvalidOperation):
        return ""
    return str(cost / qty) if qty else ""


def list_orders(home: Home, account: str, only_open: bool, limit: int) -> pb.ListOrdersResponse:
    n = limit if limit > 0 else DEFAULT_ORDERS
    out = []
    for row in views.orders(home, None, only_open, n, account or None):
        denial = row.get("denied_by") or {}
        out.append(
            pb.Order(
                client_order_id=str(row["client_order_id"]),
                account=_text(row.get("account")),
                strategy_id=_text(row.get("strategy_id")),
                run_id=str(row["run_id"]),
                symbol=str(row["symbol"]),
                side=str(row["side"]),
                type=str(row["order_type"]),
                # base units; a market buy sized by its cost has none until it fills
                quantity=_text(row.get("quantity") or row.get("filled_quantity")),
                price=_text(row.get("average_price") or row.get("limit_price")),
                status=str(row["state"]),
                filled=_text(row.get("filled_quantity")),
                denied_by=str(denial.get("guard", row.get("reject_code") or "")) if denial else "",
                reason=str(row.get("detail") or row.get("reason") or ""),
                ts=_ms_iso(row.get("signal_bar_ms")),
            )
        )
    return pb.ListOrdersResponse(orders=out)


def _ms_iso(ms: object) -> str:
    from rara.domain.market import ms_to_iso

    return ms_to_iso(int(ms)) if isinstance(ms, int) else ""


def get_account(home: Home, store: EventStore, account: str) -> pb.GetAccountResponse:
    rows = list(views.positions(home, account or None))
    if not rows:
        raise BadInput("unknown_account", f"no account {account!r} in the ledger", "")
    row = rows[0]
    name = str(row["account"])
    control = Control(store)
    marks = _marks(store, name, "")
    equity = str(marks[-1][1]) if marks else ""
    return pb.GetAccountResponse(
        account=name,
        exchange=_text(row.get("exchange")),
        mode=name.split(":", 1)[0],
        trading_state=trading_state(store),
        balances=[pb.Balance(asset=k, total=v) for k, v in sorted(row["balances"].items())],
        equity=equity,
        realized_pnl=_text(row.get("realized_pnl")),
        locks=[f"{lock.scope}:{lock.target or '*'} {lock.reason}" for lock in control.locks()],
    )


def _marks(store: EventStore, account: str, strategy_id: str) -> list[tuple[int, str]]:
    where = EventFilter(types=[TradingEquityMarked], strategy_id=strategy_id or None)
    last: dict[int, str] = {}
    for ev in store.iter_query(where):
        p = ev.typed()
        if isinstance(p, TradingEquityMarked) and (not account or p.account == account):
            last[p.bar_ms] = str(p.equity)  # a bar marked twice keeps its later mark
    return sorted(last.items())


def get_equity_curve(
    store: EventStore, account: str, strategy_id: str, max_points: int
) -> pb.GetEquityCurveResponse:
    marks = _marks(store, account, strategy_id)
    if max_points > 0 and len(marks) > max_points:
        step = len(marks) / max_points  # evenly spaced, the last mark kept
        picked = [marks[int(i * step)] for i in range(max_points - 1)] + [marks[-1]]
        marks = picked
    return pb.GetEquityCurveResponse(points=[pb.EquityPoint(at_ms=m, equity=e) for m, e in marks])


# ---- research --------------------------------------------------------------------------------


def _experiment(e: Experiment) -> pb.Experiment:
    hyp = e.hypothesis
    return pb.Experiment(
        experiment_id=e.experiment_id,
        run_id=e.run_id,
        iteration=e.iteration,
        strategy_id=e.strategy_id or "",
        family=e.family,
        hypothesis=str(hyp.get("statement") or hyp.get("text") or json.dumps(hyp, sort_keys=True)),
        outcome=e.outcome,
        failed_check=e.failed_check or "",
        validation_sharpe=e.validation_sharpe or 0.0,
        ts=e.created_at,
    )


def list_experiments(home: Home, run_id: str, limit: int) -> pb.ListExperimentsResponse:
    with ResearchStore(home.state_db) as research:
        if not run_id:
            latest = research.latest(1)
            if not latest:
                return pb.ListExperimentsResponse()
            run_id = latest[0].run_id
        rows = research.of_run(run_id)
    if limit > 0:
        rows = rows[-limit:]
    return pb.ListExperimentsResponse(run_id=run_id, experiments=[_experiment(e) for e in rows])


def get_experiment(home: Home, experiment_id: str) -> pb.GetExperimentResponse:
    with ResearchStore(home.state_db) as research:
        e = research.get(experiment_id)
    if e is None:
        raise BadInput("unknown_experiment", f"no experiment {experiment_id!r}", "")
    out = pb.GetExperimentResponse(
        experiment=_experiment(e),
        params_json=json.dumps(e.params, sort_keys=True) if e.params is not None else "",
        source=e.source,
    )
    if e.report is not None:
        out.gate.CopyFrom(gate_report("research", e.report))
    return out
