"""The gRPC server inside a real daemon: `rara run --feed replay --paper-only` on the planted-edge
home serves rara.v1 on a free loopback port as its ``server`` component, and the control calls,
made with the control token, reach the daemon's components through the log:

- GetStatus lists the daemon's components, the server among them;
- a read-only token is refused on a control call (PERMISSION_DENIED), a wrong one on any call
  (UNAUTHENTICATED);
- Kill halts trading (``trading_state_changed`` HALTED naming the token ``control``, never its
  value) and Resume activates it again;
- ApproveStrategy moves a live candidate (written into the log before the start) to live on the
  one configured account (``--paper-only``: nothing trades it live);
- PauseResearch stops research (its component says so, and no research event follows), the pause
  holds across a daemon restart (GetStatus and `rara status` say paused), and ResumeResearch
  lets research go on.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from rara.events import open_event_store
from rara.v1 import rara_pb2 as pb
from rara.v1 import rara_pb2_grpc as pb_grpc
from tests.kit.cli import CliResult
from tests.kit.daemon import planted_edge_home, write_live_candidate
from tests.kit.daemon_process import DaemonProcess
from tests.kit.live import wait_for

SID = "st_aaaa000000000001"
NOT_RESEARCH = ("research_paused", "research_resumed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Client:
    """A blocking rara.v1 client with one token."""

    def __init__(self, port: int, token: str) -> None:
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = pb_grpc.RaraServiceStub(self.channel)
        self.metadata = (("authorization", f"Bearer {token}"),)

    def __call__(self, method: str, request: Any) -> Any:
        return getattr(self.stub, method)(request, metadata=self.metadata, timeout=60)

    def close(self) -> None:
        self.channel.close()


def _tokens(home: Path) -> dict[str, str]:
    path = home / "server" / "tokens.json"
    wait_for(path.exists, 120, every_s=0.2, why="the server's token file")
    return {t["name"]: t["token"] for t in json.loads(path.read_text())["tokens"]}


def _status_when(client: Client, ok: Callable[[Any], bool], why: str) -> Any:
    def look() -> Any:
        try:
            status = client("GetStatus", pb.GetStatusRequest())
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.UNAVAILABLE:  # not serving yet
                return None
            raise
        return status if ok(status) else None

    return wait_for(look, 180, every_s=0.3, why=why)


def _component(status: Any, name: str) -> Any:
    return next((c for c in status.components if c.name == name), None)


def _research_paused(status: Any) -> bool:
    research = _component(status, "research")
    return bool(research is not None and "paused" in research.detail and status.research_paused)


def _research_events(d: DaemonProcess, after: int) -> list[Any]:
    return [
        e
        for e in d.events()
        if e.seq > after and e.type.startswith("research_") and e.type not in NOT_RESEARCH
    ]


def test_control_calls_over_grpc_reach_the_daemon(
    cli: Callable[..., CliResult], rara_home: Path
) -> None:
    planted_edge_home(rara_home, cli)
    port = _free_port()
    with (rara_home / "config.toml").open("a", encoding="utf-8") as f:
        f.write("\n[trading.accounts.tn]\nexchange = 'binance'\n")
    with open_event_store(rara_home / "rara.db") as store:
        write_live_candidate(store, SID)
    args = ("--feed", "replay", "--speed", "max", "--paper-only")

    with DaemonProcess(rara_home, *args, env={"RARA_SERVER__PORT": str(port)}) as d:
        d.wait_ready()
        tokens = _tokens(rara_home)
        assert set(tokens) == {"read", "control"}
        control, read, wrong = (
            Client(port, tokens["control"]),
            Client(port, tokens["read"]),
            Client(port, "not-a-token"),
        )
        try:
            status = _status_when(
                control,
                lambda s: (
                    {"server", "research", "feedback", "lifecycle"}
                    <= {c.name for c in s.components}
                    and "serving" in _component(s, "server").detail  # the table lags a turn
                ),
                "GetStatus to list the daemon's components",
            )
            assert status.daemon_running and not status.read_only
            server = _component(status, "server")
            assert server.kind == "server" and f"127.0.0.1:{port}" in server.detail

            # a read-only token may read but not control; a wrong one may do neither
            assert read("GetStatus", pb.GetStatusRequest()).daemon_running
            with pytest.raises(grpc.RpcError) as denied:
                read("Kill", pb.KillRequest(reason="read-only"))
            assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
            with pytest.raises(grpc.RpcError) as unknown:
                wrong("GetStatus", pb.GetStatusRequest())
            assert unknown.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert not d.events("trading_state_changed")

            # the kill switch and back
            killed = control("Kill", pb.KillRequest(flatten=True, reason="grpc test"))
            assert killed.trading_state == pb.TRADING_STATE_HALTED
            (halt,) = d.events("trading_state_changed")
            assert halt.seq == killed.seq and halt.source == "server"
            assert (halt.payload["state"], halt.payload["flatten"]) == ("HALTED", True)
            assert halt.payload["requested_by"] == "control"
            assert all(t not in json.dumps(halt.envelope()) for t in tokens.values())
            assert control("GetStatus", pb.GetStatusRequest()).trading_state == 3
            resumed = control("Resume", pb.ResumeRequest(reason="checked"))
            assert resumed.trading_state == pb.TRADING_STATE_ACTIVE
            (_, back) = d.events("trading_state_changed")
            assert back.seq == resumed.seq and back.payload["requested_by"] == "control"

            # a person's approval of the live candidate, on the one account configured
            approved = control("ApproveStrategy", pb.ApproveStrategyRequest(strategy_id=SID))
            assert approved.stage == "live"
            confirmed = [
                e for e in d.events("feedback_strategy_confirmed") if e.seq == approved.seq
            ]
            assert confirmed and confirmed[0].payload["confirmed_by"] == "control"
            assert confirmed[0].payload["account"] == "tn"

            # research: running, paused (and quiet), across a restart
            d.wait_event("research_run_started")
            paused = control("PauseResearch", pb.PauseResearchRequest(reason="grpc test"))
            _status_when(control, _research_paused, "the research component to say paused")
            quiet_from = d.events()[-1].seq
            time.sleep(3)  # three of the paused component's looks at the log
            assert _research_events(d, quiet_from) == []
            (pause,) = d.events("research_paused")
            assert pause.seq == paused.seq and pause.payload["by"] == "control"
        finally:
            for c in (control, read, wrong):
                c.close()
        assert d.stop() == 0

    with DaemonProcess(rara_home, *args, env={"RARA_SERVER__PORT": str(port)}) as d:
        d.wait_ready()
        control = Client(port, tokens["control"])
        try:
            _status_when(control, _research_paused, "research still paused after the restart")
            assert cli("status").json["research"]["paused"] is True
            quiet_from = d.events()[-1].seq
            time.sleep(3)
            assert _research_events(d, quiet_from) == []
            resumed = control("ResumeResearch", pb.ResumeResearchRequest())
            d.wait_event("research_hypothesis_created", lambda e: e.seq > resumed.seq)
            assert not control("GetStatus", pb.GetStatusRequest()).research_paused
            (back,) = d.events("research_resumed")
            assert back.payload["by"] == "control"
        finally:
            control.close()
        assert d.stop() == 0
        stopped = [
            e
            for e in d.events("daemon_component_changed")
            if e.payload["component"] == "server" and e.payload["state"] == "stopped"
        ]
        assert stopped


@pytest.mark.parametrize(
    ("flags", "env"),
    [(("--no-server",), {}), ((), {"RARA_SERVER__ENABLED": "false"})],
    ids=["--no-server", "server.enabled=false"],
)
def test_the_daemon_runs_without_its_server_when_told(
    rara_home: Path, flags: tuple[str, ...], env: dict[str, str]
) -> None:
    with DaemonProcess(rara_home, "--no-research", *flags, env=env) as d:
        ready = d.wait_ready()
        assert "server" not in ready.payload["components"]
        assert "lifecycle" in ready.payload["components"]
        (started,) = d.events("daemon_started")
        assert started.payload["options"]["server"] == ("--no-server" not in flags)
        assert d.stop() == 0
    assert not (rara_home / "server" / "tokens.json").exists()
