"""The TUI's view of a rara server: a small async client over grpc.aio.

One channel, the bearer token attached to every call as metadata (never logged or shown), TLS
when a CA is given. Each method is one RPC returning its typed response; the event stream is an
async iterator of events (unrolled from the server's batches) and heartbeats that the caller
resumes by passing the last seq it saw. No textual here: the widgets call this, not the other
way round.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc import aio

from rara.v1 import rara_pb2 as pb
from rara.v1 import rara_pb2_grpc as pb_grpc

DEFAULT_SERVER = "127.0.0.1:50051"


@dataclass(frozen=True)
class ServerAddress:
    """Where the server is and how to reach it. `token` is a secret: repr hides it."""

    target: str = DEFAULT_SERVER
    token: str = ""
    ca_cert: bytes | None = None  # PEM; None: plaintext (loopback or --insecure servers)

    def __repr__(self) -> str:
        return f"ServerAddress(target={self.target!r}, tls={self.ca_cert is not None})"


def read_token(path: Path) -> str:
    """The token in `path`: the server's token file (JSON, ``{"tokens": [{name, role, token}]}``;
    the control token when there is one, else the first) or a file holding just the token."""
    text = path.read_text(encoding="utf-8").strip()
    if text.startswith("{"):
        tokens = json.loads(text).get("tokens", [])
        for entry in sorted(tokens, key=lambda t: t.get("role") != "control"):
            return str(entry["token"])
        return ""
    return text.splitlines()[0].strip() if text else ""


class RaraClient:
    """Typed calls on one channel. `close()` (or `async with`) ends the channel."""

    def __init__(self, address: ServerAddress, timeout_s: float = 10.0) -> None:
        self.address = address
        self.timeout_s = timeout_s
        if address.ca_cert is not None:
            creds = grpc.ssl_channel_credentials(root_certificates=address.ca_cert)
            self._channel = aio.secure_channel(address.target, creds)
        else:
            self._channel = aio.insecure_channel(address.target)
        self._stub = pb_grpc.RaraServiceStub(self._channel)
        self._metadata = (("authorization", f"Bearer {address.token}"),)

    async def __aenter__(self) -> RaraClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close(grace=None)

    # ---- reads -----------------------------------------------------------------------------
    async def status(self) -> pb.GetStatusResponse:
        r: pb.GetStatusResponse = await self._stub.GetStatus(
            pb.GetStatusRequest(), metadata=self._metadata, timeout=self.timeout_s
        )
        return r

    async def strategies(self, stage: str = "") -> list[pb.Strategy]:
        r: pb.ListStrategiesResponse = await self._stub.ListStrategies(
            pb.ListStrategiesRequest(stage=stage), metadata=self._metadata, timeout=self.timeout_s
        )
        return list(r.strategies)

    async def strategy(self, strategy_id: str) -> pb.GetStrategyResponse:
        r: pb.GetStrategyResponse = await self._stub.GetStrategy(
            pb.GetStrategyRequest(strategy_id=strategy_id),
            metadata=self._metadata,
            timeout=self.timeout_s,
        )
        return r

    async def positions(self, account: str = "") -> list[pb.Position]:
        r: pb.ListPositionsResponse = await self._stub.ListPositions(
            pb.ListPositionsRequest(account=account),
            metadata=self._metadata,
            timeout=self.timeout_s,
        )
        return list(r.positions)

    async def orders(self, account: str = "", limit: int = 0) -> list[pb.Order]:
        r: pb.ListOrdersResponse = await self._stub.ListOrders(
            pb.ListOrdersRequest(account=account, limit=limit),
            metadata=self._metadata,
            timeout=self.timeout_s,
        )
        return list(r.orders)

    async def account(self, account: str) -> pb.GetAccountResponse:
        r: pb.GetAccountResponse = await self._stub.GetAccount(
            pb.GetAccountRequest(account=account), metadata=self._metadata, timeout=self.timeout_s
        )
        return r

    async def experiments(self, run_id: str = "", limit: int = 0) -> pb.ListExperimentsResponse:
        r: pb.ListExperimentsResponse = await self._stub.ListExperiments(
            pb.ListExperimentsRequest(run_id=run_id, limit=limit),
            metadata=self._metadata,
            timeout=self.timeout_s,
        )
        return r

    async def experiment(self, experiment_id: str) -> pb.GetExperimentResponse:
        r: pb.GetExperimentResponse = await self._stub.GetExperiment(
            pb.GetExperimentRequest(experiment_id=experiment_id),
            metadata=self._metadata,
            timeout=self.timeout_s,
        )
        return r

    async def equity_curve(
        self, account: str = "", strategy_id: str = "", max_points: int = 0
    ) -> list[pb.EquityPoint]:
        r: pb.GetEquityCurveResponse = await self._stub.GetEquityCurve(
            pb.GetEquityCurveRequest(
                account=account, strategy_id=strategy_id, max_points=max_points
            ),
            metadata=self._metadata,
            timeout=self.timeout_s,
        )
        return list(r.points)

    async def events(
        self, after_seq: int = 0, types: Sequence[str] = (), heartbeat_ms: int = 0
    ) -> AsyncIterator[pb.Event | pb.Heartbeat]:
        """Events after `after_seq` one by one, then new ones and heartbeats until the stream
        breaks (an `grpc.aio.AioRpcError` the caller catches to reconnect from its last seq).
        The server sends them in batches; they are unrolled here, in order."""
        call = self._stub.StreamEvents(
            pb.StreamEventsRequest(
                after_seq=after_seq, types=list(types), heartbeat_ms=heartbeat_ms, batched=True
            ),
            metadata=self._metadata,
        )
        try:
            async for item in call:
                kind = item.WhichOneof("item")
                if kind == "batch":
                    for ev in item.batch.events:
                        yield ev
                elif kind == "event":  # a server from before batches
                    yield item.event
                elif kind == "heartbeat":
                    yield item.heartbeat
        finally:
            call.cancel()

    # ---- control ---------------------------------------------------------------------------
    async def kill(self, reason: str, flatten: bool = False) -> pb.KillResponse:
        r: pb.KillResponse = await self._stub.Kill(
            pb.KillRequest(flatten=flatten, reason=reason),
            metadata=self._metadata,
            timeout=self.timeout_s,
        )
        return r

    async def resume(self, reason: str) -> pb.ResumeResponse:
        r: pb.ResumeResponse = await self._stub.Resume(
            pb.ResumeRequest(reason=reason), metadata=self._metadata, timeout=self.timeout_s
        )
        return r

    async def approve(self, strategy_id: str, account: str = "") -> pb.ApproveStrategyResponse:
        r: pb.ApproveStrategyResponse = await self._stub.ApproveStrategy(
            pb.ApproveStrategyRequest(strategy_id=strategy_id, account=account),
            metadata=self._metadata,
            timeout=self.timeout_s,
        )
        return r

    async def demote(self, strategy_id: str, reason: str) -> pb.DemoteStrategyResponse:
        r: pb.DemoteStrategyResponse = await self._stub.DemoteStrategy(
            pb.DemoteStrategyRequest(strategy_id=strategy_id, reason=reason),
            metadata=self._metadata,
            timeout=self.timeout_s,
        )
        return r

    async def pause_research(self, reason: str) -> pb.PauseResearchResponse:
        r: pb.PauseResearchResponse = await self._stub.PauseResearch(
            pb.PauseResearchRequest(reason=reason), metadata=self._metadata, timeout=self.timeout_s
        )
        return r


def describe_error(exc: BaseException) -> str:
    """A one-line reason for the UI: the status code and the server's detail, never metadata."""
    if isinstance(exc, aio.AioRpcError):
        return f"{exc.code().name}: {exc.details() or ''}".strip()
    if isinstance(exc, ConnectionError | aio.UsageError):
        return str(exc) or type(exc).__name__
    return type(exc).__name__
