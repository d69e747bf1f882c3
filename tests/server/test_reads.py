"""Every read RPC against a real server on a random loopback port, serving a state DB the real CLI
wrote (a research run and a paper run): each answer equals what the state DB holds, read here
through rara's own readers."""

from __future__ import annotations

import grpc
import pytest

from rara.domain.events import TradingEquityMarked
from rara.events import EventFilter, open_event_store
from rara.home import Home
from rara.research.store import ResearchStore
from rara.server.verify import ChainCheck
from rara.trading import views
from rara.v1 import rara_pb2 as pb
from tests.kit.server import ServerThread, served
from tests.server.conftest import Traded

pytestmark = pytest.mark.slow


@pytest.fixture
def srv(served_home: Home) -> ServerThread:
    with served(served_home) as s:
        yield s


@pytest.fixture
def stub(srv: ServerThread):  # type: ignore[no-untyped-def]
    return srv.stub(srv.tokens.get("read").value)


def test_get_status_counts_what_the_state_db_holds(stub, served_home: Home, traded: Traded):
    status = stub.GetStatus(pb.GetStatusRequest())
    with open_event_store(served_home.state_db, readonly=True) as store:
        head = store.last_seq()
    assert status.head_seq == head > 0
    assert status.read_only and not status.daemon_running and status.daemon_id == ""
    assert status.trading_state == pb.TRADING_STATE_ACTIVE
    promoted = [c for c in traded.research["candidates"] if c["outcome"] == "paper_candidate"]
    assert status.strategies_by_stage["paper_candidate"] == len(promoted) >= 1
    assert status.experiments == len(traded.research["candidates"])
    open_positions = [
        r for r in views.positions(served_home, None) if r.get("quantity") not in (None, "0")
    ]
    assert status.open_positions == len(open_positions)
    assert any("no daemon" in w for w in status.warnings)


def test_stream_from_the_start_is_the_whole_log_and_verifies(stub, served_home: Home):
    with open_event_store(served_home.state_db, readonly=True) as store:
        head = store.last_seq()
        marks = len(store.query(EventFilter(types=[TradingEquityMarked])))
    call = stub.StreamEvents(pb.StreamEventsRequest(after_seq=0))
    check, seqs = ChainCheck(), []
    for item in call:
        if item.WhichOneof("item") == "heartbeat":
            assert item.heartbeat.head_seq == head
            break
        ev = item.event
        check.check(ev.seq, ev.canonical_json, ev.prev_hash, ev.hash)
        seqs.append(ev.seq)
    call.cancel()
    assert seqs == list(range(1, head + 1)) and check.checked == head
    # filtered: only the type asked for, still verifiable one by one
    call = stub.StreamEvents(pb.StreamEventsRequest(types=["trading_equity_marked"]))
    got = []
    for item in call:
        if item.WhichOneof("item") == "heartbeat":
            break
        got.append(item.event)
    call.cancel()
    assert len(got) == marks and {e.type for e in got} == {"trading_equity_marked"}
    check = ChainCheck()
    for ev in got:
        check.check(ev.seq, ev.canonical_json, ev.prev_hash, ev.hash)


def test_strategies_with_their_gate_reports_and_metrics(stub, traded: Traded):
    listed = stub.ListStrategies(pb.ListStrategiesRequest()).strategies
    mine = next(s for s in listed if s.strategy_id == traded.strategy_id)
    assert mine.stage == "paper_candidate" and mine.symbol == "EDGE/USDT"
    assert mine.timeframe == "1h" and mine.exchange == "synthetic"
    assert traded.paper["account"] in mine.accounts
    only = stub.ListStrategies(pb.ListStrategiesRequest(stage="live")).strategies
    assert list(only) == []
    got = stub.GetStrategy(pb.GetStrategyRequest(strategy_id=traded.strategy_id))
    assert got.strategy.strategy_id == traded.strategy_id
    gate = got.research_gate
    assert gate.gate == "research" and gate.passed and gate.decision == "paper_candidate"
    assert gate.checks and all(c.name for c in gate.checks) and gate.report_json
    (metrics,) = got.metrics
    assert metrics.run_id == traded.paper["run_id"] and metrics.bars == traded.paper["bars"]
    assert metrics.trades > 0 and metrics.sharpe > 0 and 0 <= metrics.max_drawdown < 1
    assert not got.HasField("paper_gate")  # gate 2 never judged it: no daemon ran
    with pytest.raises(grpc.RpcError) as err:
        stub.GetStrategy(pb.GetStrategyRequest(strategy_id="nope"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_positions_orders_account_and_equity_curve(stub, served_home: Home, traded: Traded):
    account = traded.paper["account"]
    positions = stub.ListPositions(pb.ListPositionsRequest()).positions
    rows = [r for r in views.positions(served_home, None) if "symbol" in r]
    assert [(p.account, p.exchange, p.symbol, p.quantity) for p in positions] == [
        (r["account"], "synthetic", r["symbol"], r["quantity"]) for r in rows
    ]
    orders = stub.ListOrders(pb.ListOrdersRequest(limit=10_000)).orders
    expected = list(views.orders(served_home, None, False, 10_000))
    assert [o.client_order_id for o in orders] == [r["client_order_id"] for r in expected]
    assert len(orders) > 0 and {o.run_id for o in orders} == {traded.paper["run_id"]}
    assert {(o.account, o.strategy_id) for o in orders} == {(account, traded.strategy_id)}
    assert {o.status for o in orders} <= {"filled", "canceled", "open", "rejected"}
    assert len(stub.ListOrders(pb.ListOrdersRequest(limit=3)).orders) == 3
    acct = stub.GetAccount(pb.GetAccountRequest(account=account))
    assert acct.account == account and acct.mode == "paper" and acct.balances
    assert acct.exchange == "synthetic"
    assert acct.trading_state == pb.TRADING_STATE_ACTIVE and acct.equity
    curve = stub.GetEquityCurve(pb.GetEquityCurveRequest(account=account)).points
    with open_event_store(served_home.state_db, readonly=True) as store:
        bars = {
            p.bar_ms
            for p in (e.typed() for e in store.query(EventFilter(types=[TradingEquityMarked])))
            if isinstance(p, TradingEquityMarked) and p.account == account
        }
    assert [p.at_ms for p in curve] == sorted(bars)
    assert curve[-1].equity == acct.equity
    few = stub.GetEquityCurve(pb.GetEquityCurveRequest(account=account, max_points=10)).points
    assert len(few) == 10 and few[-1] == curve[-1] and few[0] == curve[0]


def test_experiments_of_the_latest_run(stub, served_home: Home, traded: Traded):
    listed = stub.ListExperiments(pb.ListExperimentsRequest())
    assert listed.run_id == traded.research["run_id"]
    with ResearchStore(served_home.state_db) as research:
        rows = research.of_run(listed.run_id)
    assert [e.experiment_id for e in listed.experiments] == [r.experiment_id for r in rows]
    assert [e.outcome for e in listed.experiments] == [r.outcome for r in rows]
    promoted = next(e for e in listed.experiments if e.outcome == "paper_candidate")
    got = stub.GetExperiment(pb.GetExperimentRequest(experiment_id=promoted.experiment_id))
    assert got.experiment == promoted
    assert got.gate.passed and got.source and got.params_json
    with pytest.raises(grpc.RpcError) as err:
        stub.GetExperiment(pb.GetExperimentRequest(experiment_id="nope"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_denied_order_names_its_guard(cli, rara_home):  # type: ignore[no-untyped-def]
    from tests.kit.paths import REPO

    sma = str(REPO / "strategies" / "examples" / "sma_crossover" / "strategy.py")
    limits = {"RARA_TRADING__RISK__MAX_POSITION_NOTIONAL": "100"}
    out = cli(
        "paper", "run", sma, "--symbol", "BTC/USDT", "--timeframe", "1h",
        "--start", "2024-03-01", "--end", "2024-03-08", "--quiet", env=limits,
    )  # fmt: skip
    assert out.code == 3, out.stdout + out.stderr  # the gate denied every entry
    home = Home(root=rara_home)
    with served(home) as srv:
        stub = srv.stub(srv.tokens.get("read").value)
        orders = stub.ListOrders(pb.ListOrdersRequest(limit=1000)).orders
        assert len(orders) == len(list(views.orders(home, None, False, 1000))) > 0
        for o in orders:
            assert o.status == "rejected" and o.denied_by == "max_position_notional"
            assert o.reason and o.side == "buy" and o.symbol == "BTC/USDT"
            assert o.account.startswith("paper:") and o.strategy_id
        assert list(stub.ListOrders(pb.ListOrdersRequest(only_open=True)).orders) == []
