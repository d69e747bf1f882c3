"""The conductor: keeps what trades equal to what the lifecycle says should trade.

Every turn it reads the lifecycle (`rara.feedback.lifecycle`) and:

1. starts paper trading paper candidates, oldest first, while fewer than
   ``daemon.max_paper_strategies`` are at stage paper (a ``feedback_strategy_promote`` to paper);
2. confirms live candidates only when ``daemon.auto_approve`` is set explicitly (with
   ``daemon.approve_account``, and only one that account can trade: `rara.daemon.approval`);
   otherwise they wait for `rara strategy approve`;
3. runs one `TradingComponent` per strategy at paper (on the paper venue) and at live (on its
   approved account; not with ``--paper-only``), and stops the component of a strategy that left
   its stage (demoted, retired); a live one first winds down (`rara.daemon.wind_down`: its
   position sold, with ``daemon.flatten_on_demote``), and one left unfinished (the daemon was
   killed mid-way, or the strategy was demoted while none ran) is finished by a fresh live
   component that reconciles first;
4. halts a trading component that crashed: a strategy lock (``scope = strategy``) is set with
   the error, so nothing of it trades, and after a backoff a fresh component is started, whose
   session reconciles before it trades; once it is open the lock is released.

A paper run on a replay ends when its bars do; its component is then finished, not restarted,
and gate 2 (feedback) judges the run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from rara.config import Settings
from rara.daemon.approval import AutoApproval
from rara.daemon.trading import (
    TradingComponent,
    TradingMode,
    TradingOptions,
    TradingPlan,
    plan_of,
)
from rara.daemon.wind_down import ENDS as WIND_DOWN_ENDS
from rara.daemon.wind_down import PendingWindDown, WindDown, WindDowns
from rara.domain.events import ComponentKind
from rara.domain.market import Candles
from rara.events import EventStore
from rara.feedback.lifecycle import Lifecycle, StrategyRecord, move
from rara.home import Home
from rara.supervision import Component, Progress, RestartPolicy
from rara.trading.control import Control, release_lock, set_lock

log = logging.getLogger(__name__)
SOURCE = "daemon"
FINISHED = ("feed_ended", "already_finished")
HALT_LOCK = "halt-"  # + the component's name: the strategy lock a halt sets


class Supervises(Protocol):
    """What the conductor needs of the supervisor."""

    def add(self, component: Component) -> None: ...

    def remove(self, name: str, timeout_s: float | None = None) -> bool: ...


@dataclass
class _Halt:
    """A trading component that crashed: its lock, and when to try again."""

    lock_id: str
    failures: int
    retry_at: float


@dataclass
class Conductor:
    home: Home
    store: EventStore
    settings: Callable[[], Settings]
    supervisor: Supervises
    options: TradingOptions
    paper_only: bool = False
    interval_s: float = 1.0
    clock: Callable[[], float] = time.monotonic
    running: dict[str, TradingComponent] = field(default_factory=dict)
    finished: dict[str, str] = field(default_factory=dict)  # name -> how its run ended
    halts: dict[str, _Halt] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # name -> why it cannot start
    winding: dict[str, TradingComponent] = field(default_factory=dict)  # left live, winding down
    wind_failures: dict[str, tuple[int, float]] = field(default_factory=dict)  # tries, retry at
    said: set[str] = field(default_factory=set)  # wind-downs --paper-only skips, warned once
    _lock: threading.Lock = field(default_factory=threading.Lock)

    name = "lifecycle"
    kind: ComponentKind = "consumer"
    restart: RestartPolicy = "always"

    def __post_init__(self) -> None:
        self.lifecycle = Lifecycle(self.store)
        self.wind_downs = WindDowns(self.store)
        self.approval = AutoApproval(self.home, self.store)
        # a halt outlives the daemon that set it (its lock is in the log): this one lifts it
        # once the component's fresh session has reconciled, as for its own halts
        for lock in Control(self.store).locks():
            if lock.lock_id.startswith(HALT_LOCK):
                name = lock.lock_id.removeprefix(HALT_LOCK)
                self.halts[name] = _Halt(lock.lock_id, 1, self.clock())

    # ---- the component -------------------------------------------------------------------
    def run(self, progress: Progress, stopping: threading.Event) -> None:
        while not stopping.is_set():
            self.step()
            progress.beat(self.describe())
            stopping.wait(self.interval_s)

    def describe(self) -> str:
        with self._lock:
            return (
                f"{len(self.running)} trading, {len(self.finished)} finished, "
                f"{len(self.halts)} halted"
            )

    def symbols(self) -> list[str]:
        """The symbols being traded now."""
        with self._lock:
            return sorted({c.plan.symbol for c in self.running.values()})

    def window_of(self, symbol: str) -> Candles | None:
        """The bars a running engine on `symbol` last evaluated (the sentinel's market view:
        the replay's bars in a replay, the exchange's live)."""
        with self._lock:
            comps = [c for c in self.running.values() if c.plan.symbol == symbol]
        for comp in comps:
            window = comp.window()
            if window is not None and len(window):
                return window
        return None

    # ---- one turn ------------------------------------------------------------------------
    def step(self) -> list[TradingComponent]:
        """One turn (see the module); the trading components it started."""
        self.lifecycle.refresh()
        settings = self.settings()
        self._start_paper_candidates(settings)
        self.approval.step(settings, self.lifecycle)
        self._collect_ended()
        wanted = {p.component_name: p for p in self._plans()}
        pending = self._pending_wind_downs(settings)
        started: list[TradingComponent] = []
        with self._lock:
            unwanted = [n for n in self.running if n not in wanted]
            # halted and waiting for a retry (not running): its lock must not outlive the stage
            unwanted += [n for n in self.halts if n not in wanted and n not in self.running]
        for name in unwanted:
            self.supervisor.remove(name)
            with self._lock:
                self.running.pop(name, None)
            self._lift_halt(name, "its strategy left the stage that trades")
        self._wind_down(pending)
        now = self.clock()
        for name, plan in wanted.items():
            with self._lock:
                busy = name in self.running or name in self.finished
                halt = self.halts.get(name)
            if busy or (halt is not None and now < halt.retry_at):
                continue
            comp = TradingComponent(self.home, plan, self.options)
            with self._lock:
                self.running[name] = comp
            self.supervisor.add(comp)
            started.append(comp)
        return started

    def wait_opened(self, components: list[TradingComponent], timeout_s: float) -> list[str]:
        """Wait for `components` to open (reconciled, armed); the names that opened."""
        deadline = self.clock() + timeout_s
        opened: list[str] = []
        for comp in components:
            comp.opened.wait(max(0.0, deadline - self.clock()))
            if comp.opened.is_set() and comp.open_error is None:
                opened.append(comp.name)
                self._lift_halt(comp.name, "reconciled and trading again")
        return opened

    def halted(self, name: str, error: BaseException | None) -> None:
        """The supervisor's `on_halt`: a trading component crashed. Lock its strategy with the
        error and try again after a backoff (doubled per failure, capped)."""
        with self._lock:
            comp = self.running.pop(name, None)
            halt = self.halts.get(name)
        if comp is None:
            return
        what = f"{type(error).__name__}: {error}" if error is not None else "it stopped"
        d = self.settings().daemon
        failures = 1 if halt is None else halt.failures + 1
        wait = min(d.restart_backoff_s * 2 ** (failures - 1), d.restart_backoff_max_s)
        lock_id = halt.lock_id if halt is not None else HALT_LOCK + name
        set_lock(
            self.store,
            "strategy",
            comp.plan.strategy_id,
            until_ms=None,
            reason=f"trading engine halted ({what[:300]}); restarted after reconciliation",
            by="daemon",
            lock_id=lock_id,
            source=SOURCE,
        )
        with self._lock:
            self.halts[name] = _Halt(lock_id, failures, self.clock() + wait)
        log.warning("%s halted (%s); trying again in %.1f s after reconciliation", name, what, wait)

    # ---- winding down what left stage live (`rara.daemon.wind_down`) ----------------------
    def _pending_wind_downs(
        self, settings: Settings
    ) -> dict[str, tuple[PendingWindDown, WindDown]]:
        """The live components to wind down, by name; a running one is told at once (so this
        turn's removal of what is unwanted passes it by)."""
        if self.paper_only:  # no live session is opened with --paper-only: say so, once each
            for p in self.wind_downs.pending(self.lifecycle.strategies()):
                key = f"{p.strategy_id}:{p.demotion_seq}"
                if key not in self.said:
                    self.said.add(key)
                    log.warning(
                        "%s left stage live (%s), but --paper-only opens no live session: its "
                        "position on account %s stays as it is until a daemon started without "
                        "--paper-only winds it down (`rara status` lists it)",
                        p.strategy_id, p.why, p.account,
                    )  # fmt: skip
            return {}
        d = settings.daemon
        out: dict[str, tuple[PendingWindDown, WindDown]] = {}
        for p in self.wind_downs.pending(self.lifecycle.strategies()):
            name = f"trading:{p.strategy_id}:{p.account}"
            order = WindDown(p.demotion_seq, p.why, d.flatten_on_demote, d.flatten_timeout_s)
            out[name] = (p, order)
            with self._lock:
                comp = self.running.get(name)
                if comp is None or comp.plan.mode != "live" or name in self.winding:
                    continue
                del self.running[name]
                self.winding[name] = comp
            comp.wind_down(order)
            log.info("%s left stage live (%s): winding down", name, p.why)
        return out

    def _wind_down(self, pending: dict[str, tuple[PendingWindDown, WindDown]]) -> None:
        """Collect wound-down components; start one for a pending wind-down without one (a
        restart finishing it), after a backoff when the last try failed."""
        now = self.clock()
        with self._lock:
            done = [(n, c) for n, c in self.winding.items() if c.done.is_set()]
        for name, comp in done:
            self.supervisor.remove(name)
            with self._lock:
                del self.winding[name]
            if comp.wound in WIND_DOWN_ENDS:
                self.wind_failures.pop(name, None)
                continue
            failures, _ = self.wind_failures.get(name, (0, now))
            d = self.settings().daemon
            wait = min(d.restart_backoff_s * 2**failures, d.restart_backoff_max_s)
            self.wind_failures[name] = (failures + 1, now + wait)
        for name, (p, order) in pending.items():
            with self._lock:
                busy = name in self.winding or name in self.running
            retry_at = self.wind_failures.get(name, (0, 0.0))[1]
            if busy or now < retry_at:
                continue
            rec = self.lifecycle.get(p.strategy_id)
            plan = None if rec is None else self._plan(rec)
            if plan is None:
                continue
            plan = replace(plan, mode="live", account=p.account)
            comp = TradingComponent(
                self.home,
                plan,
                self.options,
                wind_down=order,
                report_open_failure=name not in self.wind_failures,
            )
            try:
                self.supervisor.add(comp)
            except ValueError as exc:  # stopping, or its old slot still running
                log.info("wind-down of %s not started: %s", name, exc)
                continue
            with self._lock:
                self.winding[name] = comp
            log.info("%s: finishing its wind-down (%s)", name, order.why)

    # ---- the parts of a turn -------------------------------------------------------------
    def _plans(self) -> list[TradingPlan]:
        plans: list[TradingPlan] = []
        for rec in self.lifecycle.strategies():
            if rec.stage == "paper" or (rec.stage == "live" and not self.paper_only):
                plan = self._plan(rec)
                if plan is not None:
                    plans.append(plan)
        return plans

    def _plan(self, rec: StrategyRecord) -> TradingPlan | None:
        mode: TradingMode = "live" if rec.stage == "live" else "paper"
        try:
            return plan_of(self.home, rec, mode)
        except Exception as exc:  # a manifest moved or broken: say so once, trade the rest
            key = f"{rec.strategy_id}:{mode}"
            if key not in self.problems:
                self.problems[key] = str(exc)
                log.error("cannot trade %s (%s): %s", rec.name, rec.strategy_id, exc)
            return None

    def _start_paper_candidates(self, settings: Settings) -> None:
        cap = settings.daemon.max_paper_strategies
        at_paper = len(self.lifecycle.strategies("paper"))
        for rec in self.lifecycle.strategies("paper_candidate"):
            if at_paper >= cap:
                return
            move(
                self.store,
                self.lifecycle,
                rec.strategy_id,
                "paper",
                reason=f"paper trading started ({at_paper + 1} of at most {cap})",
                by="daemon",
                event_id=f"paper-start:{rec.strategy_id}:{rec.since_seq}",
                source=SOURCE,
            )
            at_paper += 1

    def _collect_ended(self) -> None:
        """Components whose run ended by itself (a replay out of bars) are finished; a halted
        one that opened again (reconciled) is released."""
        reopened: list[str] = []
        with self._lock:
            for name, comp in list(self.running.items()):
                if comp.ended in FINISHED:
                    self.finished[name] = comp.ended
                    del self.running[name]
                elif name in self.halts and comp.opened.is_set() and comp.open_error is None:
                    reopened.append(name)
        for name in reopened:
            self._lift_halt(name, "reconciled and trading again")

    def _lift_halt(self, name: str, why: str) -> None:
        with self._lock:
            halt = self.halts.pop(name, None)
        if halt is None:
            return
        try:
            release_lock(self.store, halt.lock_id, reason=why, by="daemon", source=SOURCE)
        except Exception as exc:  # released by a person meanwhile
            log.info("halt lock %s: %s", halt.lock_id, exc)
