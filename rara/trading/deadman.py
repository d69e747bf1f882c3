"""The dead man's switch of a live account: open orders cancel themselves when the loop that
services orders stops re-arming it.

`DeadmanSwitch` is the port the engine drives from that loop::

    switch = choose_deadman(account_settings, venue, store=store, home=home, account=name,
                            symbols=symbols, managers=managers, venue_spec=spec)
                                                     # rara.trading.deadman_choice
    if switch is not None: switch.arm(now_ms())     # trading_deadman_armed
    while running:
        ...service orders...
        switch.refresh(now_ms())                     # re-arms when due
    switch.disarm()

``now_ms`` is wall-clock time (the exchange's and the watchdog's timers run on it), not the bar
clock. Two implementations:

- `ExchangeDeadman`: the exchange's server-side cancel-all-after (`CancelAfterVenue`), re-armed
  with the timeout; the exchange cancels when the calls stop, whatever happened to our host;
- `WatchdogDeadman`: for a venue without one, a heartbeat file and rara's watchdog process
  (`rara.trading.watchdog`), which cancels through its own venue connection; it cannot cover
  the host itself dying or losing its network.

A re-arm is due every ``refresh_ms``; ``trading_deadman_refreshed`` is written at most once per
``log_every_ms`` (default: the refresh interval) with the re-arms since the last one. A refresh
that finds the switch expired (the loop was stalled past the timeout) first learns what the
firing took down, by syncing the managers: every order open at the last re-arm (or still open
in the journal) that is canceled now. It journals ``trading_deadman_fired``
(``detected_by="engine"``, unless the watchdog journaled the same firing first), tells
``on_fired`` (the engine, which places the position's protective orders again), then re-arms.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Protocol

from rara.domain.events import (
    DeadmanMethod,
    TradingDeadmanArmed,
    TradingDeadmanFired,
    TradingDeadmanRefreshed,
)
from rara.errors import BadInput
from rara.events import EventStore
from rara.home import Home
from rara.trading.orders import OrderManager
from rara.trading.reconcile_report import append_once
from rara.trading.venue import CancelAfterVenue, VenueError
from rara.trading.watchdog import (
    Heartbeat,
    VenueSpec,
    fired_event_id,
    heartbeat_path,
    write_heartbeat,
)

SOURCE = "trading"


class DeadmanSwitch(Protocol):
    """Armed once, refreshed from the loop that services orders, disarmed on a clean stop."""

    method: DeadmanMethod

    @property
    def label(self) -> str:
        """What guards the account, for people: the method, or both."""
        ...

    def arm(self, now_ms: int) -> None: ...

    def refresh(self, now_ms: int) -> bool:
        """Re-arm if due; whether it re-armed now."""
        ...

    def disarm(self) -> None: ...


class _Switch:
    """What both switches share: the expiry, the events, and noticing a firing."""

    method: DeadmanMethod

    def __init__(
        self,
        store: EventStore,
        *,
        account: str,
        exchange: str,
        timeout_ms: int,
        refresh_ms: int,
        managers: Sequence[OrderManager] = (),
        log_every_ms: int | None = None,
    ) -> None:
        if not 0 < refresh_ms < timeout_ms:
            raise BadInput(
                "deadman_refresh",
                f"the switch re-arms every {refresh_ms} ms but expires after {timeout_ms} ms",
                "re-arm well inside the timeout (deadman_refresh_s < deadman_timeout_s)",
            )
        self.store = store
        self.account, self.exchange = account, exchange
        self.timeout_ms, self.refresh_ms = timeout_ms, refresh_ms
        self.log_every_ms = refresh_ms if log_every_ms is None else log_every_ms
        self.managers = list(managers)
        self.expires_ms: int | None = None
        # told the client ids a firing canceled (the engine re-protects its position)
        self.on_fired: Callable[[Sequence[str]], None] | None = None
        # when last (re-)armed: our open orders, and each manager's newest intent seq
        self._open_at_arm: set[str] = set()
        self._seq_at_arm: list[int] = []
        self.last_error: VenueError | None = None  # the last re-arm the venue did not answer
        self._armed_ms = 0
        self._logged_ms = 0
        self._refreshes = 0

    @property
    def label(self) -> str:
        return self.method

    # the method-specific part
    def _rearm(self, now_ms: int) -> None:
        raise NotImplementedError

    def arm(self, now_ms: int) -> None:
        """Arm it (a venue that does not answer raises: do not trade unprotected)."""
        self._rearm(now_ms)
        self._armed_at(now_ms)
        self._logged_ms, self._refreshes = now_ms, 0
        armed = TradingDeadmanArmed(
            account=self.account,
            exchange=self.exchange,
            method=self.method,
            timeout_ms=self.timeout_ms,
            expires_ms=self.expires_ms,
        )
        self.store.append(armed, source=SOURCE)

    def refresh(self, now_ms: int) -> bool:
        if self.expires_ms is None:
            raise BadInput("deadman_not_armed", "refresh of a switch that is not armed", "arm it")
        if now_ms - self._armed_ms < self.refresh_ms:
            return False
        if now_ms > self.expires_ms:
            self._notice_firing(self.expires_ms)
        try:
            self._rearm(now_ms)
        except VenueError as exc:
            self.last_error = exc  # the switch runs down: the orders cancel, which is safe
            return False
        self.last_error = None
        self._armed_at(now_ms)
        self._refreshes += 1
        if now_ms - self._logged_ms >= self.log_every_ms:
            refreshed = TradingDeadmanRefreshed(
                account=self.account,
                exchange=self.exchange,
                method=self.method,
                timeout_ms=self.timeout_ms,
                expires_ms=self.expires_ms,
                refreshes=self._refreshes,
            )
            self.store.append(refreshed, source=SOURCE)
            self._logged_ms, self._refreshes = now_ms, 0
        return True

    def _armed_at(self, now_ms: int) -> None:
        """The switch was (re-)armed at `now_ms`: its expiry, and the orders it then covers."""
        self.expires_ms = now_ms + self.timeout_ms
        self._armed_ms = now_ms
        self._note_orders()

    def _note_orders(self) -> None:
        self._open_at_arm = {o.client_order_id for m in self.managers for o in m.open_orders()}
        self._seq_at_arm = [max((o.seq for o in m.orders()), default=-1) for m in self.managers]

    def _notice_firing(self, expired_ms: int) -> None:
        """The loop stalled past the expiry: the switch fired. Journal what it canceled: every
        order open now, at the last re-arm, or sent since, that is canceled after a sync (the
        loop may have seen the cancel before this refresh), and tell `on_fired`."""
        canceled: list[str] = []
        for i, mgr in enumerate(self.managers):
            newest = self._seq_at_arm[i] if i < len(self._seq_at_arm) else -1
            was_open = {o.client_order_id for o in mgr.open_orders()}
            was_open |= {o.client_order_id for o in mgr.orders() if o.seq > newest}
            was_open |= {cid for cid in self._open_at_arm if mgr.order(cid) is not None}
            # no answer: what it canceled shows at the next sync; the firing is news already
            with suppress(VenueError):
                mgr.sync(resend=False)
            canceled += [
                cid
                for cid in sorted(was_open)
                if (o := mgr.order(cid)) is not None and o.state == "canceled"
            ]
        fired = TradingDeadmanFired(
            account=self.account,
            exchange=self.exchange,
            method=self.method,
            expired_ms=expired_ms,
            detected_by="engine",
            canceled=canceled,
        )
        append_once(self.store, fired, fired_event_id(self.account, expired_ms), SOURCE)
        if self.on_fired is not None and canceled:
            self.on_fired(canceled)


class ExchangeDeadman(_Switch):
    """The exchange's cancel-all-after: re-armed with the timeout, disarmed with 0."""

    method: DeadmanMethod = "exchange"

    def __init__(
        self,
        store: EventStore,
        venue: CancelAfterVenue,
        *,
        account: str,
        timeout_ms: int,
        refresh_ms: int,
        managers: Sequence[OrderManager] = (),
        log_every_ms: int | None = None,
    ) -> None:
        super().__init__(
            store,
            account=account,
            exchange=venue.exchange,
            timeout_ms=timeout_ms,
            refresh_ms=refresh_ms,
            managers=managers,
            log_every_ms=log_every_ms,
        )
        self.venue = venue

    def _rearm(self, now_ms: int) -> None:
        self.venue.cancel_all_after(self.timeout_ms)

    def disarm(self) -> None:
        if self.expires_ms is not None:
            self.venue.cancel_all_after(0)
            self.expires_ms = None


class WatchdogDeadman(_Switch):
    """rara's watchdog process (`rara.trading.watchdog`), fed a heartbeat file."""

    method: DeadmanMethod = "watchdog"

    def __init__(
        self,
        store: EventStore,
        home: Home,
        *,
        account: str,
        exchange: str,
        venue_spec: VenueSpec,
        symbols: Sequence[str],
        timeout_ms: int,
        refresh_ms: int,
        managers: Sequence[OrderManager] = (),
        log_every_ms: int | None = None,
        poll_s: float = 0.5,
    ) -> None:
        super().__init__(
            store,
            account=account,
            exchange=exchange,
            timeout_ms=timeout_ms,
            refresh_ms=refresh_ms,
            managers=managers,
            log_every_ms=log_every_ms,
        )
        self.home = home
        self.venue_spec = venue_spec
        self.symbols = tuple(symbols)
        self.poll_s = poll_s
        self.path = heartbeat_path(home, self.account)
        self.process: subprocess.Popen[bytes] | None = None

    def _rearm(self, now_ms: int) -> None:
        # The heartbeat exists before the watchdog starts (one that finds none leaves at once),
        # and is written again naming it.
        beat = Heartbeat(
            account=self.account,
            exchange=self.exchange,
            symbols=self.symbols,
            venue=self.venue_spec,
            timeout_ms=self.timeout_ms,
            expires_ms=now_ms + self.timeout_ms,
            engine_pid=os.getpid(),
            watchdog_pid=None if self.process is None else self.process.pid,
        )
        write_heartbeat(self.path, beat)
        if self.process is None or self.process.poll() is not None:
            self._start()
            assert self.process is not None
            write_heartbeat(
                self.path,
                type(beat).model_validate({**beat.model_dump(), "watchdog_pid": self.process.pid}),
            )

    def _start(self) -> None:
        log = self.home.ensure(self.path.parent) / f"{self.path.stem}.log"
        with open(log, "ab") as out:
            # its own session: a signal to the engine's process group does not reach it
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "rara.trading.watchdog",
                    "--account",
                    self.account,
                    "--engine-pid",
                    str(os.getpid()),
                    "--poll-s",
                    str(self.poll_s),
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
                env={**os.environ, "RARA_HOME": str(self.home.root)},
            )

    def disarm(self, wait_s: float = 10.0) -> None:
        """Remove the heartbeat; the watchdog sees it gone and exits (waited for, `wait_s`)."""
        self.path.unlink(missing_ok=True)
        self.expires_ms = None
        if self.process is not None:
            try:
                self.process.wait(timeout=wait_s)
            except subprocess.TimeoutExpired:
                self.process.terminate()
                self.process.wait()
            self.process = None
