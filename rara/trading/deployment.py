"""A deployment: one strategy on one instrument and account, fixed for the life of a run, and
what its engine reports about the run as it goes (progress, and the per-bar timings benchmarks
ask for)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import Field

from rara.domain.events import EventPayload, TradingSessionEnded, TradingSessionStarted
from rara.domain.orders import base_and_quote
from rara.events import Event, EventStore
from rara.trading.journal import Deployment as OrderBook

SOURCE = "trading"


class Deployment(OrderBook):
    """Who trades what, where, at which costs: fixed for the life of a run (the order manager's
    deployment plus what the engine needs)."""

    strategy_name: str
    strategy_path: str
    timeframe: str
    interval_ms: int = Field(gt=0)
    feed: str
    fee: float = Field(ge=0)
    size_fraction: float = Field(gt=0, le=1)

    @property
    def quote(self) -> str:
        return base_and_quote(self.symbol)[1]

    @property
    def base(self) -> str:
        return base_and_quote(self.symbol)[0]

    def record(self, store: EventStore, payload: EventPayload) -> Event:
        """Append `payload` as this run's (its correlation id, its strategy)."""
        return store.append(
            payload, source=SOURCE, correlation_id=self.run_id, strategy_id=self.strategy_id
        )

    def started(self, trailing_window: int, resumed: bool) -> TradingSessionStarted:
        return TradingSessionStarted(
            run_id=self.run_id,
            strategy_id=self.strategy_id,
            strategy_path=self.strategy_path,
            account=self.account,
            exchange=self.exchange,
            symbol=self.symbol,
            timeframe=self.timeframe,
            mode=self.mode,
            feed=self.feed,
            trailing_window=trailing_window,
            resumed=resumed,
        )


@dataclass
class EngineProgress:
    """What the engine has done in this run (the CLI's progress line and summary read it)."""

    bars: int = 0
    last_bar_ms: int | None = None
    intents: int = 0
    denied: int = 0
    fills: int = 0
    halted_at_seq: int | None = None
    stale: bool = False
    divergent_bars: int = 0
    denials: dict[str, int] = field(default_factory=dict)

    def ended(self, reason: str, deployment: Deployment) -> TradingSessionEnded:
        return TradingSessionEnded(
            run_id=deployment.run_id,
            strategy_id=deployment.strategy_id,
            reason=reason,
            bars=self.bars,
            last_bar_ms=self.last_bar_ms,
        )


@dataclass
class BarTimings:
    """Where a bar's time goes: the sandbox evaluation (per batch, with its bar count) and
    everything else (per bar). Recorded only when asked (benchmarks)."""

    sandbox_ms: list[tuple[float, int]] = field(default_factory=list)
    other_ms: list[float] = field(default_factory=list)
    # the same bars' CPU time on the engine's thread: what the bar costs, whatever the load
    other_cpu_ms: list[float] = field(default_factory=list)
