"""The daemon's trading components: one engine per strategy and account, paper or live.

A `TradingPlan` is what a lifecycle record says to trade (read once from the strategy's
manifest: its market and params); a `TradingComponent` runs it. The session is opened inside
the component's thread, and opening it is the reconciliation: a paper session restores its
order journal, syncs the venue and books what was filled before a crash; a live session
reconciles the account and arms its dead man's switch (`rara.trading.live`). The run id is a
function of strategy, market and range, so a restarted daemon resumes the same run after its
last marked bar instead of trading it twice.

A crash is never restarted here (`restart = "halt"`): the supervisor halts the component and
the conductor restarts it only by opening a fresh session, which reconciles first.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rara.daemon.wind_down import WindDown, report_open_failure, wind_down_session
from rara.domain.events import ComponentKind, WindDownStep
from rara.domain.market import Candles
from rara.feedback.lifecycle import StrategyRecord
from rara.home import Home
from rara.registry.manifest import read_manifest
from rara.registry.remote.lock import ensure_intact, traded_instrument
from rara.supervision import Progress, RestartPolicy
from rara_sandbox.manifest import STRATEGY_FILE

log = logging.getLogger(__name__)

TradingMode = Literal["paper", "live"]
PaperFeed = Literal["replay", "exchange"]


@dataclass(frozen=True)
class TradingPlan:
    """One strategy on one market and account, as its lifecycle stage asks."""

    strategy_id: str
    strategy_name: str
    directory: Path
    params: dict[str, Any]
    exchange: str
    symbol: str
    timeframe: str
    mode: TradingMode
    account: str | None  # the approved account when live; None on paper

    @property
    def component_name(self) -> str:
        return f"trading:{self.strategy_id}:{self.account or 'paper'}"

    @property
    def source_path(self) -> Path:
        return self.directory / STRATEGY_FILE


def plan_of(home: Home, rec: StrategyRecord, mode: TradingMode) -> TradingPlan:
    """The plan for `rec` at its stage: the market it was promoted on (for one installed from
    a registry whose manifest names none, the market gate 1 judged it on at install), its
    promoted params."""
    directory = home.root / rec.path
    ensure_intact(home, directory)  # an installed strategy trades only as it was locked
    manifest = read_manifest(directory)
    instrument = traded_instrument(home, directory, manifest)
    if instrument is None:
        raise ValueError(f"{rec.name}: its manifest names no instrument to trade")
    exchange, symbol, timeframe = instrument.split(":")
    return TradingPlan(
        strategy_id=rec.strategy_id,
        strategy_name=rec.name,
        directory=directory,
        params=dict(manifest.params),
        exchange=exchange,
        symbol=symbol,
        timeframe=timeframe,
        mode=mode,
        account=rec.account if mode == "live" else None,
    )


@dataclass(frozen=True)
class TradingOptions:
    """How the daemon trades, the same for every plan."""

    paper_feed: PaperFeed = "replay"
    speed: float | None = None  # replay speed; None: as fast as bars are read
    replay_from_ms: int | None = None  # the replay's first bar (research saw only bars before)
    live_flag: bool = False  # `rara run --live`: the third opt-in for live-mode accounts
    stop_orders: Literal["cancel", "leave_under_deadman"] = "cancel"


class TradingComponent:
    """Runs one `TradingPlan` until stopped, until a replay has no more bars, or, live, until
    it has wound down (`wind_down`; given at start, a wind-down a restart finishes)."""

    kind: ComponentKind = "trading"
    restart: RestartPolicy = "halt"

    def __init__(
        self,
        home: Home,
        plan: TradingPlan,
        options: TradingOptions,
        wind_down: WindDown | None = None,
        *,
        report_open_failure: bool = True,
    ) -> None:
        self.home, self.plan, self.options = home, plan, options
        self.opened = threading.Event()  # set once the session is open (reconciled, armed)
        self.open_error: BaseException | None = None
        self.ended: str | None = None  # the engine's end: feed_ended or stopped
        self.run_id: str | None = None
        self.canceled_on_stop = 0
        self._session: Any = None
        self._wind: WindDown | None = None
        self._winding = threading.Event()
        self._report_open_failure = report_open_failure  # an event; a retry only logs
        self.done = threading.Event()  # set when run() returned, however
        self.wound: WindDownStep | None = None  # how its wind-down ended (flat, still_open...)
        if wind_down is not None:
            self.wind_down(wind_down)

    def wind_down(self, order: WindDown) -> None:
        """Stop taking signals, wind down (live), then end (called from another thread)."""
        self._wind = order
        self._winding.set()

    @property
    def winding(self) -> bool:
        return self._winding.is_set()

    @property
    def name(self) -> str:
        return self.plan.component_name

    def window(self) -> Candles | None:
        """The bars its engine last evaluated (None before the session opened)."""
        session = self._session
        return None if session is None else session.engine.window

    def run(self, progress: Progress, stopping: threading.Event) -> None:
        try:
            self._run(progress, stopping)
        finally:
            self.done.set()

    def _run(self, progress: Progress, stopping: threading.Event) -> None:
        try:
            session = self._open()
        except BaseException as exc:
            self.open_error = exc
            self.opened.set()
            if self._wind is not None:
                report_open_failure(
                    self.home, self.plan, self._wind, exc, event=self._report_open_failure
                )
            raise
        with session:
            self._session = session
            self.run_id = session.deployment.run_id
            self.opened.set()
            progress.beat(f"{self.plan.mode} run {self.run_id} opened")

            def should_stop() -> bool:
                progress.beat()
                return stopping.is_set() or self._winding.is_set()

            def wind_down() -> bool:
                order = self._wind
                if order is None or stopping.is_set():
                    return False
                self.wound = wind_down_session(session, self.plan, order, progress, stopping)
                return True

            leave = self.options.stop_orders == "leave_under_deadman"
            if self.plan.mode == "live":
                from rara.trading.live import LiveSession

                assert isinstance(session, LiveSession)
                self.ended = session.run(
                    should_stop, timeout_s=1.0, disarm=not leave, wind_down=wind_down
                )
            else:
                self.ended = session.run(should_stop, timeout_s=1.0)
            if stopping.is_set() and not leave:
                self.canceled_on_stop = len(session.engine.orders.cancel_all())
            progress.beat(f"{self.plan.mode} run {self.run_id} {self.ended}")

    def _open(self) -> Any:
        p, o = self.plan, self.options
        if p.mode == "live":
            from rara.trading.live import open_live_session

            assert p.account is not None
            return open_live_session(
                self.home,
                str(p.source_path),
                account=p.account,
                symbol=p.symbol,
                timeframe=p.timeframe,
                live_flag=o.live_flag,
                params=p.params,
            )
        from rara.trading.session import open_paper_session

        replay = o.paper_feed == "replay"
        return open_paper_session(
            self.home,
            str(p.source_path),
            symbol=p.symbol,
            timeframe=p.timeframe,
            exchange=p.exchange,
            start_ms=o.replay_from_ms if replay else None,
            speed=o.speed,
            params=p.params,
            feed_kind="replay" if replay else "poll",
        )
