"""`ServerComponent`, the gRPC server as a supervised component, run the way the supervisor runs
it (its own thread, a `Progress`, a stopping event) on a real state DB and a free port: it beats
while serving and names its address, and when the daemon stops it a health watcher sees
NOT_SERVING before the server goes."""

from __future__ import annotations

import threading
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from rara.config import load_settings
from rara.daemon.control import DaemonControl
from rara.daemon.options import DaemonParts
from rara.events import open_event_store
from rara.home import Home
from rara.server.component import ServerComponent
from rara.supervision import Progress
from tests.kit.live import wait_for

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def test_the_server_component_serves_beats_and_says_not_serving_at_stop(rara_home: Path) -> None:
    rara_home.mkdir(parents=True, exist_ok=True)
    (rara_home / "config.toml").write_text("[server]\nport = 0\n", encoding="utf-8")
    home = Home.from_env()
    settings = load_settings(home)
    with open_event_store(home.state_db) as store:
        parts = DaemonParts(
            home=home,
            settings=lambda: settings,
            control=DaemonControl(store, lambda: settings, home),
        )
        component = ServerComponent(parts)
        assert (component.name, component.kind, component.restart) == (
            "server",
            "server",
            "always",
        )
        progress, stopping = Progress(), threading.Event()
        errors: list[BaseException] = []

        def work() -> None:
            try:
                component.run(progress, stopping)
            except BaseException as exc:  # the supervisor's view: a crash
                errors.append(exc)

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        try:
            port = wait_for(lambda: component.port, 60, why="the server to bind")
            wait_for(lambda: "serving" in progress.detail, 60, why="a beat while serving")
            assert progress.detail == f"serving rara.v1 on 127.0.0.1:{port}"
            beats = progress.beats
            wait_for(lambda: progress.beats > beats, 60, why="another beat")
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                watch = health_pb2_grpc.HealthStub(channel).Watch(
                    health_pb2.HealthCheckRequest(service="rara.v1.RaraService"), timeout=60
                )
                seen = [next(watch).status]
                assert seen == [SERVING]
                stopping.set()  # the daemon stops
                try:
                    for answer in watch:
                        seen.append(answer.status)
                except grpc.RpcError:
                    pass  # the server went after telling
                assert NOT_SERVING in seen and seen[0] == SERVING
        finally:
            stopping.set()
            thread.join(60)
        assert not thread.is_alive() and errors == []
        assert component.port is None
