"""`rara run`: the composition root of the daemon.

Start-up, in this order, before anything trades or research starts:

1. take the home's single-instance lock (a second daemon is refused) and log ``daemon_started``;
2. verify the event chain (a broken chain refuses to start: `rara events verify` says where);
3. rebuild the projections: the ledger books every fill the log holds (`catch_up`), the
   lifecycle and the trading state and locks are read from the log;
4. reconcile every account the daemon trades and arm its dead man's switch: each trading
   component opens its session, which does both (`rara.daemon.trading`), and start-up waits
   for them;
5. start research, feedback, the sentinel, the conductor and the gRPC server (`rara.server`,
   built by the factory `rara run` hands in: the daemon does not import grpc), log
   ``daemon_ready`` and tell systemd ``READY=1``, and supervise.

Stop: the first SIGTERM or SIGINT stops every component (trading engines finish their bar,
cancel their open orders or leave them under the armed dead man's switch per
``daemon.stop_orders``), the ledger books what was filled, ``daemon_stopped`` is logged and the
process exits 0; a second signal exits at once (143/130). SIGHUP reads the config again: a bad
file keeps the old settings; components read the new ones at their next turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable
from typing import Any, Literal

from rara import __version__
from rara.config import Settings
from rara.daemon import heap
from rara.daemon.conductor import Conductor
from rara.daemon.control import DaemonControl
from rara.daemon.faults import Faults
from rara.daemon.instance import instance_lock
from rara.daemon.notify import Notifier
from rara.daemon.options import (
    DaemonParts,
    RunOptions,
    ServerFactory,
    SettingsRef,
    replay_start_ms,
)
from rara.daemon.research import ResearchComponent
from rara.daemon.status import StatusWriter
from rara.daemon.supervisor import Supervisor, error_detail
from rara.daemon.trading import TradingOptions
from rara.domain.events import (
    DaemonConfigReloaded,
    DaemonReady,
    DaemonStarted,
    DaemonStopped,
    EventPayload,
)
from rara.errors import RaraError, Refused
from rara.events import EventStore, open_event_store, verify_path
from rara.home import Home
from rara.ledger import catch_up, open_ledger
from rara.supervision import Component

log = logging.getLogger(__name__)
SOURCE = "daemon"
HEAP_IDLE_S = 60.0  # with heap trimming off, how often to look whether SIGHUP turned it on
StopReason = Literal["sigterm", "sigint", "replay_finished", "duration", "fatal"]


class Daemon:
    """One daemon process on one home (see the module)."""

    def __init__(
        self, home: Home, options: RunOptions, server: ServerFactory | None = None
    ) -> None:
        self.home, self.options = home, options
        self.server = server
        self.settings = SettingsRef(home)
        self.daemon_id = "daemon_" + os.urandom(6).hex()
        self.notifier = Notifier.from_env()
        self.stop_reason: StopReason = "sigterm"
        self._signals = 0
        self._early_stop = False  # a stop asked for before the supervisor's loop took signals
        self._early_hup = False

    def _hold_signals(self) -> None:
        """Signals outside the supervisor's loop (start-up, the drain after it): a stop is kept
        and acted on once the loop runs (a second exits at once), a SIGHUP is applied then.
        Without this, SIGTERM or SIGHUP in start-up killed the process by their default."""

        def on_stop(reason: StopReason, code: int) -> Callable[[int, Any], None]:
            def handler(signum: int, frame: Any) -> None:
                self._signals += 1
                if self._signals > 1:
                    os._exit(code)
                self.stop_reason, self._early_stop = reason, True

            return handler

        def on_hup(signum: int, frame: Any) -> None:
            self._early_hup = True

        signal.signal(signal.SIGTERM, on_stop("sigterm", 143))
        signal.signal(signal.SIGINT, on_stop("sigint", 130))
        signal.signal(signal.SIGHUP, on_hup)

    def run(self) -> int:
        self._hold_signals()
        with instance_lock(self.home):
            store = open_event_store(self.home.state_db)
            try:
                return self._run(store)
            finally:
                store.close()

    def _record(self, store: EventStore, payload: EventPayload) -> None:
        store.append(payload, source=SOURCE, correlation_id=self.daemon_id)

    def _run(self, store: EventStore) -> int:
        try:
            return self._started(store)
        except BaseException as exc:
            # say in the log why this daemon ended; the CLI prints the error itself
            code = exc.exit_code if isinstance(exc, RaraError) else 1
            self._record(
                store,
                DaemonStopped(
                    daemon_id=self.daemon_id,
                    reason="fatal",
                    orders="none_open",
                    open_orders_canceled=0,
                    exit_code=code,
                    detail=error_detail(exc),
                ),
            )
            raise

    def _started(self, store: EventStore) -> int:
        t0 = time.monotonic()
        settings = self.settings()
        heap.cap_arenas(settings.daemon.heap_arenas)  # before the component threads start
        heap.fix_mmap_threshold(settings.daemon.heap_mmap_threshold_kb * 1024)
        self._record(
            store,
            DaemonStarted(
                daemon_id=self.daemon_id,
                pid=os.getpid(),
                version=__version__,
                options=self.options.to_event(),
            ),
        )
        status = StatusWriter(self.home.state_db, self.daemon_id)
        status.started(os.getpid(), self.options.to_event())
        # 2. the chain
        report = verify_path(self.home.state_db)
        if not report.ok:
            raise Refused(
                "event_log_broken",
                f"the event log does not verify ({report.problem} at seq {report.first_bad_seq}): "
                f"{report.reason}",
                "run `rara events verify` for the details; restore the state DB from a backup "
                "before starting the daemon",
            )
        self._check_webhook(settings)
        # 3. projections: the ledger books what the log holds
        with open_ledger(self.home.state_db) as ledger:
            catch_up(ledger, store)
        replay_from = (
            replay_start_ms(self.home, settings) if self.options.paper_feed == "replay" else None
        )
        trading = TradingOptions(
            paper_feed=self.options.paper_feed,
            speed=self.options.speed,
            replay_from_ms=replay_from,
            live_flag=self.options.live,
            stop_orders=settings.daemon.stop_orders,
        )

        def on_halt(name: str, exc: BaseException | None) -> None:
            conductor.halted(name, exc)  # bound below, before any component can crash

        supervisor = Supervisor(
            store,
            self.daemon_id,
            settings.daemon,
            notifier=self.notifier,
            status=status,
            on_halt=on_halt,
            faults=Faults.from_env(),
        )
        conductor = Conductor(
            self.home,
            store,
            self.settings,
            supervisor,
            trading,
            paper_only=self.options.paper_only,
        )
        # 4. reconcile and arm: every trading session opens (and reconciles) before ready
        started = conductor.step()
        opened = conductor.wait_opened(started, self.options.open_timeout_s)
        # only a session that opened reconciled its account and armed its switch (one that
        # failed is still in `running` until the supervisor, not yet started, halts it)
        accounts = sorted(
            {c.plan.account for c in started if c.name in opened and c.plan.account is not None}
        )
        armed = [a for a in accounts if settings.trading.accounts[a].deadman != "off"]
        for component in self._background(store, settings, replay_from, conductor):
            supervisor.add(component)
        if self.server is not None and self.options.server and settings.server.enabled:
            parts = DaemonParts(
                home=self.home,
                settings=self.settings,
                control=DaemonControl(store, self.settings, self.home),
            )
            supervisor.add(self.server(parts))
        head = store.last_seq()
        self._record(
            store,
            DaemonReady(
                daemon_id=self.daemon_id,
                head_seq=head,
                accounts_reconciled=accounts,
                deadman_armed=armed,
                components=sorted(supervisor.names()),
                startup_ms=int((time.monotonic() - t0) * 1000),
            ),
        )
        status.ready()
        self.notifier.ready(f"ready: {len(opened)} trading, {len(supervisor.names())} components")
        log.info("rara daemon %s ready (%d components)", self.daemon_id, len(supervisor.names()))
        try:
            asyncio.run(self._supervise(store, supervisor))
        finally:
            self._hold_signals()  # the loop's handlers are gone: a second signal still exits
            self.notifier.stopping()
        canceled = sum(c.canceled_on_stop for c in conductor.running.values())
        with open_ledger(self.home.state_db) as ledger:
            catch_up(ledger, store)  # drain: every fill the engines journaled is booked
        leave = settings.daemon.stop_orders == "leave_under_deadman"
        self._record(
            store,
            DaemonStopped(
                daemon_id=self.daemon_id,
                reason=self.stop_reason,
                orders="left_under_deadman" if leave else "canceled" if canceled else "none_open",
                open_orders_canceled=canceled,
                exit_code=0,
            ),
        )
        status.stopped()
        return 0

    def _check_webhook(self, settings: Settings) -> None:
        """A webhook without a token would restart and fail forever: refuse to start."""
        if not settings.sentinel.enabled or settings.sentinel.webhook_port is None:
            return
        from rara.credentials import WEBHOOK_TOKEN_ENV, load_secrets

        if load_secrets(self.home).sentinel_webhook_token is None:
            raise Refused(
                "sentinel_webhook_token_missing",
                "sentinel.webhook_port is set but no webhook token is configured",
                f"set {WEBHOOK_TOKEN_ENV}, or [sentinel] webhook_token in the 0600 secrets "
                "file, or unset sentinel.webhook_port",
            )

    def _background(
        self,
        store: EventStore,
        settings: Settings,
        replay_from: int | None,
        conductor: Conductor,
    ) -> list[Component]:
        """Research, feedback, the sentinel and the conductor."""
        from rara.feedback.component import FeedbackComponent
        from rara.feedback.evaluator import FeedbackEvaluator
        from rara.feedback.lifecycle import Lifecycle
        from rara.sentinel.component import SentinelComponent

        parts: list[Component] = [conductor]
        if self.options.research:
            parts.append(ResearchComponent(self.home, self.settings, as_of_ms=replay_from))
        evaluator = FeedbackEvaluator(self.home, store, settings, Lifecycle(store))
        parts.append(FeedbackComponent(evaluator, settings.daemon.feedback_interval_s))
        if settings.sentinel.enabled:
            parts.append(
                SentinelComponent(
                    self._sentinel(store, settings, conductor), settings.sentinel.poll_interval_s
                )
            )
        return parts

    def _sentinel(self, store: EventStore, settings: Settings, conductor: Conductor) -> Any:
        from rara.sentinel.build import build_sentinel

        research_symbol = settings.daemon.research.symbol
        return build_sentinel(
            self.home,
            settings,
            store,
            traded_symbols=lambda: sorted(set(conductor.symbols()) | {research_symbol}),
            candles_of=conductor.window_of,
        )

    async def _trim_heap(self, stop: asyncio.Event) -> None:
        """Free heap pages back to the OS every ``heap_trim_interval_s`` (`rara.daemon.heap`),
        read afresh each time so SIGHUP applies; 0 pauses it."""
        while not stop.is_set():
            every = self.settings().daemon.heap_trim_interval_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every or HEAP_IDLE_S)
            if every and not stop.is_set():
                await asyncio.to_thread(heap.trim)

    async def _supervise(self, store: EventStore, supervisor: Supervisor) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()

        def on_stop(reason: StopReason, code: int) -> Callable[[], None]:
            def handler() -> None:
                self._signals += 1
                if self._signals > 1:
                    log.warning("second signal: exiting at once")
                    os._exit(code)
                self.stop_reason = reason
                log.info("stopping (%s)", reason)
                stop.set()

            return handler

        def on_hup() -> None:
            applied, changed, detail = self.settings.reload()
            self._record(
                store,
                DaemonConfigReloaded(
                    daemon_id=self.daemon_id, applied=applied, changed=changed, detail=detail
                ),
            )

        loop.add_signal_handler(signal.SIGTERM, on_stop("sigterm", 143))
        loop.add_signal_handler(signal.SIGINT, on_stop("sigint", 130))
        loop.add_signal_handler(signal.SIGHUP, on_hup)
        if self._early_stop:
            stop.set()
        if self._early_hup:
            on_hup()
        if self.options.duration_s is not None:

            def timed_out() -> None:
                self.stop_reason = "duration"
                stop.set()

            loop.call_later(self.options.duration_s, timed_out)
        trimming = asyncio.create_task(self._trim_heap(stop))
        try:
            await supervisor.run(stop)
        finally:
            trimming.cancel()
            for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(s)


def run_daemon(home: Home, options: RunOptions, server: ServerFactory | None = None) -> int:
    return Daemon(home, options, server).run()
