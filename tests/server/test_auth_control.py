"""Auth and control on a real server: a wrong or missing token is UNAUTHENTICATED on unary and
streaming calls alike; a read-only token is refused the control calls; a control call reaches
the daemon's `Control` port with the caller's token name and its event is in the log; without a
daemon, control calls are FAILED_PRECONDITION. Tokens sit in a 0600 file and never in an error."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import grpc
import pytest

from rara.errors import RaraError
from rara.events import open_event_store
from rara.home import Home
from rara.server.auth import ensure_tokens, token_file
from rara.v1 import rara_pb2 as pb
from tests.kit.server import served
from tests.server.conftest import StoreControl, Traded

pytestmark = pytest.mark.slow

CONTROL_CALLS = [
    ("PauseResearch", pb.PauseResearchRequest(reason="r")),
    ("ResumeResearch", pb.ResumeResearchRequest()),
    ("Kill", pb.KillRequest(reason="r")),
    ("Resume", pb.ResumeRequest(reason="r")),
    ("ApproveStrategy", pb.ApproveStrategyRequest(strategy_id="x")),
    ("DemoteStrategy", pb.DemoteStrategyRequest(strategy_id="x", reason="r")),
]


def _code(fn) -> tuple[grpc.StatusCode, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as err:
        fn()
    return err.value.code(), err.value.details()


def test_token_file_is_private_and_reused(rara_home: Path):
    path, tokens = ensure_tokens(Home(root=rara_home))
    assert path == token_file(Home(root=rara_home))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [t["role"] for t in tokens.names] == ["read", "control"]
    read, control = tokens.get("read").value, tokens.get("control").value
    assert read != control and len(read) >= 32
    _, again = ensure_tokens(Home(root=rara_home))
    assert again.get("read").value == read  # generated once, at first start
    assert read not in repr(tokens.get("read"))
    os.chmod(path, 0o644)
    with pytest.raises(RaraError) as err:
        ensure_tokens(Home(root=rara_home))
    assert err.value.code == "token_file_exposed" and read not in str(err.value)


def test_wrong_or_missing_token_is_unauthenticated_on_unary_and_stream(served_home: Home):
    with served(served_home) as srv:
        read = srv.tokens.get("read").value
        for token in (None, "wrong", read + "x", read[:-1]):
            stub = srv.stub(token)
            code, details = _code(lambda s=stub: s.GetStatus(pb.GetStatusRequest()))
            assert code == grpc.StatusCode.UNAUTHENTICATED and read not in details
            stream = stub.StreamEvents(pb.StreamEventsRequest())
            code, details = _code(lambda s=stream: next(iter(s)))
            assert code == grpc.StatusCode.UNAUTHENTICATED and read not in details
            code, _ = _code(lambda s=stub: s.Kill(pb.KillRequest(reason="r")))
            assert code == grpc.StatusCode.UNAUTHENTICATED
        # a bare token without the scheme is not admitted either
        channel = srv.channel()
        from rara.v1 import rara_pb2_grpc as pb_grpc

        raw = pb_grpc.RaraServiceStub(channel)
        code, _ = _code(
            lambda: raw.GetStatus(pb.GetStatusRequest(), metadata=[("authorization", read)])
        )
        assert code == grpc.StatusCode.UNAUTHENTICATED
        # the read token streams
        call = srv.stub(read).StreamEvents(pb.StreamEventsRequest())
        assert next(iter(call)).event.seq == 1
        call.cancel()


def test_read_only_token_is_refused_every_control_call(served_home: Home):
    control = StoreControl(served_home)
    with served(served_home, control=control) as srv:
        stub = srv.stub(srv.tokens.get("read").value)
        for name, request in CONTROL_CALLS:
            code, details = _code(lambda n=name, r=request: getattr(stub, n)(r))
            assert code == grpc.StatusCode.PERMISSION_DENIED, name
            assert "read-only" in details
    assert control.calls == []  # refused before the port saw anything


def test_without_a_daemon_control_calls_fail_precondition(served_home: Home):
    with served(served_home) as srv:
        stub = srv.stub(srv.tokens.get("control").value)
        for name, request in CONTROL_CALLS:
            code, details = _code(lambda n=name, r=request: getattr(stub, n)(r))
            assert code == grpc.StatusCode.FAILED_PRECONDITION, name
            assert details == "no daemon: rara serve is read-only"


def test_control_calls_reach_the_port_named_by_token(served_home: Home, traded: Traded):
    control = StoreControl(served_home)
    with served(served_home, control=control) as srv:
        stub = srv.stub(srv.tokens.get("control").value)
        status = stub.GetStatus(pb.GetStatusRequest())
        assert not status.read_only
        killed = stub.Kill(pb.KillRequest(flatten=False, reason="test kill"))
        assert killed.trading_state == pb.TRADING_STATE_HALTED
        with open_event_store(served_home.state_db, readonly=True) as store:
            ev = store.get(killed.seq)
        assert ev is not None and ev.type == "trading_state_changed"
        assert ev.payload["requested_by"] == "control" and ev.payload["reason"] == "test kill"
        assert stub.GetStatus(pb.GetStatusRequest()).trading_state == pb.TRADING_STATE_HALTED
        resumed = stub.Resume(pb.ResumeRequest(reason="test over"))
        assert resumed.trading_state == pb.TRADING_STATE_ACTIVE and resumed.seq > killed.seq
        # a refusal from the daemon's side is FAILED_PRECONDITION with its message
        code, details = _code(lambda: stub.Resume(pb.ResumeRequest(reason="again")))
        assert code == grpc.StatusCode.FAILED_PRECONDITION and "already ACTIVE" in details

        sid = traded.strategy_id
        approved = stub.ApproveStrategy(pb.ApproveStrategyRequest(strategy_id=sid))
        assert approved.stage == "paper"
        demoted = stub.DemoteStrategy(pb.DemoteStrategyRequest(strategy_id=sid, reason="test"))
        assert demoted.stage == "paper_candidate" and demoted.seq > approved.seq
        with open_event_store(served_home.state_db, readonly=True) as store:
            ev = store.get(demoted.seq)
        assert ev is not None and ev.payload["decided_by"] == "control"
        code, _ = _code(lambda: stub.DemoteStrategy(pb.DemoteStrategyRequest(strategy_id="nope")))
        assert code == grpc.StatusCode.NOT_FOUND
        assert stub.PauseResearch(pb.PauseResearchRequest(reason="p")).seq > 0
        assert stub.ResumeResearch(pb.ResumeResearchRequest()).seq > 0
    assert {by for _, by in control.calls} == {"control"}
    assert [c for c, _ in control.calls][:4] == ["kill", "resume", "resume", "approve_strategy"]


def test_cli_token_prints_names_and_path_never_a_value_unless_asked(cli, rara_home: Path):
    r = cli("server", "token")
    assert r.code == 0, r.stderr
    out = r.json
    path = Path(out["token_file"])
    assert path == token_file(Home(root=rara_home))
    assert out["tokens"] == [
        {"name": "read", "role": "read"},
        {"name": "control", "role": "control"},
    ]
    _, tokens = ensure_tokens(Home(root=rara_home))
    for t in ("read", "control"):
        assert tokens.get(t).value not in r.stdout + r.stderr
    shown = cli("server", "token", "--show", "read")
    assert shown.json["token"] == tokens.get("read").value
    assert tokens.get("control").value not in shown.stdout
    assert cli("server", "token", "--show", "nope").code == 2
