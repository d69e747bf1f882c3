"""The daemon's side of the server's control calls (`rara.server.control_port.Control`): each call
goes down the path the CLI takes for the same request, so nothing is implemented twice:

- ``kill`` / ``resume``: `rara.trading.control` (the ``trading_state_changed`` `rara kill` and
  `rara resume --confirm` write; a running engine cancels its open orders and, with ``flatten``,
  closes its positions through the gate's reduce path, as after `rara kill --flatten`);
- ``approve_strategy`` / ``demote_strategy``: `rara.feedback.lifecycle` (what `rara strategy
  approve` and `demote` write);
- ``pause_research`` / ``resume_research``: `rara.research.pause`, which the daemon's research
  component honours.

Every event names the caller by its token's name (``requested_by``, ``decided_by``, ``by``),
never the token; its source is ``server``. The writes are SQLite appends on the daemon's event
store, so each runs off the server's event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from rara.config import Settings
from rara.errors import BadInput
from rara.events import EventStore
from rara.feedback.lifecycle import Lifecycle, approve, demote_one
from rara.home import Home
from rara.research.pause import pause_research, resume_research
from rara.trading import control as trading

SOURCE = "server"


class DaemonControl:
    """The control calls on the daemon's event store; `settings` is read at every call (an
    approval checks the account against the settings in force)."""

    def __init__(self, store: EventStore, settings: Callable[[], Settings], home: Home) -> None:
        self.store = store
        self.settings = settings
        self.home = home  # where the strategies' manifests are: an approval checks the market
        self._lock = threading.Lock()  # the lifecycle projection is not thread-safe
        self._lifecycle: Lifecycle | None = None

    async def pause_research(self, *, reason: str, by: str) -> int:
        reason = reason.strip() or f"paused by {by}"
        ev = await asyncio.to_thread(
            pause_research, self.store, by=by, reason=reason, source=SOURCE
        )
        return ev.seq

    async def resume_research(self, *, by: str) -> int:
        ev = await asyncio.to_thread(
            resume_research, self.store, by=by, reason=f"resumed by {by}", source=SOURCE
        )
        return ev.seq

    async def kill(self, *, flatten: bool, reason: str, by: str) -> int:
        # a kill switch must never fail for want of words: an empty reason says who pressed it
        reason = reason.strip() or f"kill switch pressed by {by}"
        ev = await asyncio.to_thread(
            trading.kill, self.store, reason, flatten=flatten, by=by, source=SOURCE
        )
        return ev.seq

    async def resume(self, *, reason: str, by: str) -> int:
        reason = reason.strip() or f"resumed by {by}"
        ev = await asyncio.to_thread(
            trading.resume, self.store, by=by, reason=reason, source=SOURCE
        )
        return ev.seq

    async def approve_strategy(self, *, strategy_id: str, account: str, by: str) -> int:
        return await asyncio.to_thread(self._approve, strategy_id, account, by)

    async def demote_strategy(self, *, strategy_id: str, reason: str, by: str) -> int:
        return await asyncio.to_thread(self._demote, strategy_id, reason, by)

    # ---- the lifecycle, on a worker thread ---------------------------------------------------

    def _lifecycle_now(self) -> Lifecycle:
        if self._lifecycle is None:
            self._lifecycle = Lifecycle(self.store)
        return self._lifecycle

    def _approve(self, strategy_id: str, account: str, by: str) -> int:
        from rara.daemon.approval import account_fit
        from rara.trading.accounts import account_settings

        settings = self.settings()
        name = account or _only_account(settings)
        acct = account_settings(settings, name)  # an unknown name: BadInput naming the accounts
        with self._lock:
            _, ev = approve(
                self.store,
                self._lifecycle_now(),
                strategy_id,
                account=name,
                reason=f"approved by {by}",
                by=by,
                source=SOURCE,
                fits_account=account_fit(self.home, acct, name),
            )
        return ev.seq

    def _demote(self, strategy_id: str, reason: str, by: str) -> int:
        reason = reason.strip() or f"demoted by {by}"
        with self._lock:
            _, ev = demote_one(
                self.store, self._lifecycle_now(), strategy_id, reason=reason, by=by, source=SOURCE
            )
        return ev.seq


def _only_account(settings: Settings) -> str:
    """The account an approval names when the caller named none: the one configured."""
    accounts = sorted(settings.trading.accounts)
    if len(accounts) == 1:
        return accounts[0]
    raise BadInput(
        "account_required",
        "approving for live needs the account it trades on",
        f"name one of: {', '.join(accounts)}"
        if accounts
        else "configure one: `rara config set trading.accounts.NAME.exchange binance`",
    )
