"""`rara.v1.RaraService`: each read call runs its `rara.server.reads` function in a worker thread,
StreamEvents is `rara.server.stream`, and each control call goes to the daemon's `Control` port
(none: ``rara serve`` is read-only and says so). rara's errors become grpc status codes with
their message: bad input INVALID_ARGUMENT (an unknown id NOT_FOUND), refused
FAILED_PRECONDITION, anything else INTERNAL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import grpc

from rara.errors import BadInput, RaraError, Refused
from rara.events import EventStore
from rara.feedback.lifecycle import Lifecycle
from rara.home import Home
from rara.server import reads
from rara.server.auth import Tokens
from rara.server.control_port import Control
from rara.server.shared_reads import SharedReads
from rara.server.stream import StreamSettings, stream_events
from rara.v1 import rara_pb2 as pb
from rara.v1 import rara_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)
T = TypeVar("T")
Ctx = Any  # grpc.aio.ServicerContext (grpc is untyped here)
NO_DAEMON = "no daemon: rara serve is read-only"


def _status_of(exc: RaraError) -> Any:
    if isinstance(exc, BadInput):
        return (
            grpc.StatusCode.NOT_FOUND
            if exc.code.startswith("unknown_")
            else grpc.StatusCode.INVALID_ARGUMENT
        )
    if isinstance(exc, Refused):
        return grpc.StatusCode.FAILED_PRECONDITION
    return grpc.StatusCode.INTERNAL


async def _abort(context: Ctx, exc: RaraError) -> NoReturn:
    text = exc.message + (f" ({exc.suggestion})" if exc.suggestion else "")
    await context.abort(_status_of(exc), f"{exc.code}: {text}")
    raise AssertionError("abort returns never")  # pragma: no cover


class RaraService(pb_grpc.RaraServiceServicer):
    def __init__(
        self,
        home: Home,
        store: EventStore,
        tokens: Tokens,
        control: Control | None,
        stream: StreamSettings,
    ) -> None:
        self.home = home
        self.store = store
        self.tokens = tokens
        self.control = control
        self.stream = stream
        # one per server: its streams share their reads and one look at the head per poll
        self.reads = SharedReads(store, poll_s=stream.poll_s)

    async def _read(self, context: Ctx, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.to_thread(fn, *args)
        except RaraError as exc:
            await _abort(context, exc)

    async def _control(self, context: Ctx, call: Callable[[Control, str], Awaitable[int]]) -> int:
        if self.control is None:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, NO_DAEMON)
        assert self.control is not None
        by = self.tokens.caller(context)
        try:
            return await call(self.control, by)
        except RaraError as exc:
            await _abort(context, exc)

    # ---- reads ------------------------------------------------------------------------------

    async def GetStatus(self, request: pb.GetStatusRequest, context: Ctx) -> pb.GetStatusResponse:
        return await self._read(
            context,
            lambda: reads.get_status(self.home, self.store, read_only=self.control is None),
        )

    async def StreamEvents(
        self, request: pb.StreamEventsRequest, context: Ctx
    ) -> AsyncIterator[pb.StreamEventsResponse]:
        try:
            # closed here, not whenever it is collected: it stops listening for appends now
            async with contextlib.aclosing(stream_events(self.reads, request, self.stream)) as s:
                async for item in s:
                    yield item
        except RaraError as exc:
            await _abort(context, exc)

    async def ListStrategies(
        self, request: pb.ListStrategiesRequest, context: Ctx
    ) -> pb.ListStrategiesResponse:
        return await self._read(
            context, reads.list_strategies, self.home, self.store, request.stage
        )

    async def GetStrategy(
        self, request: pb.GetStrategyRequest, context: Ctx
    ) -> pb.GetStrategyResponse:
        return await self._read(
            context, reads.get_strategy, self.home, self.store, request.strategy_id
        )

    async def ListPositions(
        self, request: pb.ListPositionsRequest, context: Ctx
    ) -> pb.ListPositionsResponse:
        return await self._read(context, reads.list_positions, self.home, request.account)

    async def ListOrders(
        self, request: pb.ListOrdersRequest, context: Ctx
    ) -> pb.ListOrdersResponse:
        return await self._read(
            context,
            reads.list_orders,
            self.home,
            request.account,
            request.only_open,
            request.limit,
        )

    async def GetAccount(
        self, request: pb.GetAccountRequest, context: Ctx
    ) -> pb.GetAccountResponse:
        return await self._read(context, reads.get_account, self.home, self.store, request.account)

    async def ListExperiments(
        self, request: pb.ListExperimentsRequest, context: Ctx
    ) -> pb.ListExperimentsResponse:
        return await self._read(
            context, reads.list_experiments, self.home, request.run_id, request.limit
        )

    async def GetExperiment(
        self, request: pb.GetExperimentRequest, context: Ctx
    ) -> pb.GetExperimentResponse:
        return await self._read(context, reads.get_experiment, self.home, request.experiment_id)

    async def GetEquityCurve(
        self, request: pb.GetEquityCurveRequest, context: Ctx
    ) -> pb.GetEquityCurveResponse:
        return await self._read(
            context,
            reads.get_equity_curve,
            self.store,
            request.account,
            request.strategy_id,
            request.max_points,
        )

    # ---- control ----------------------------------------------------------------------------

    async def PauseResearch(
        self, request: pb.PauseResearchRequest, context: Ctx
    ) -> pb.PauseResearchResponse:
        seq = await self._control(
            context, lambda c, by: c.pause_research(reason=request.reason, by=by)
        )
        return pb.PauseResearchResponse(seq=seq)

    async def ResumeResearch(
        self, request: pb.ResumeResearchRequest, context: Ctx
    ) -> pb.ResumeResearchResponse:
        seq = await self._control(context, lambda c, by: c.resume_research(by=by))
        return pb.ResumeResearchResponse(seq=seq)

    async def Kill(self, request: pb.KillRequest, context: Ctx) -> pb.KillResponse:
        seq = await self._control(
            context, lambda c, by: c.kill(flatten=request.flatten, reason=request.reason, by=by)
        )
        state = await self._read(context, reads.trading_state, self.store)
        return pb.KillResponse(seq=seq, trading_state=state)

    async def Resume(self, request: pb.ResumeRequest, context: Ctx) -> pb.ResumeResponse:
        seq = await self._control(context, lambda c, by: c.resume(reason=request.reason, by=by))
        state = await self._read(context, reads.trading_state, self.store)
        return pb.ResumeResponse(seq=seq, trading_state=state)

    async def ApproveStrategy(
        self, request: pb.ApproveStrategyRequest, context: Ctx
    ) -> pb.ApproveStrategyResponse:
        seq = await self._control(
            context,
            lambda c, by: c.approve_strategy(
                strategy_id=request.strategy_id, account=request.account, by=by
            ),
        )
        stage = await self._read(context, self._stage, request.strategy_id)
        return pb.ApproveStrategyResponse(seq=seq, stage=stage)

    async def DemoteStrategy(
        self, request: pb.DemoteStrategyRequest, context: Ctx
    ) -> pb.DemoteStrategyResponse:
        seq = await self._control(
            context,
            lambda c, by: c.demote_strategy(
                strategy_id=request.strategy_id, reason=request.reason, by=by
            ),
        )
        stage = await self._read(context, self._stage, request.strategy_id)
        return pb.DemoteStrategyResponse(seq=seq, stage=stage)

    def _stage(self, strategy_id: str) -> str:
        rec = Lifecycle(self.store).get(strategy_id)
        return "" if rec is None else rec.stage
