"""Approving a live candidate for an account: `account_fit`, the check every approval makes (a
person's `rara strategy approve`, the gRPC call, auto-approval) that the account can trade the
candidate's market (`rara.trading.accounts.refuse_unfit_account`); and ``daemon.auto_approve``:
live candidates moved to live on ``daemon.approve_account`` without a person, only when that
setting is explicit, and only after that check. A candidate the account cannot trade stays a
live candidate, with one ``feedback_strategy_hold`` saying why per candidacy, not one per
conductor turn."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from rara.config import Settings
from rara.domain.events import FeedbackStrategyHold
from rara.errors import BadInput, RaraError
from rara.events import EventStore
from rara.feedback.lifecycle import Lifecycle, StrategyRecord, move
from rara.home import Home
from rara.registry.remote.lock import traded_instrument

if TYPE_CHECKING:
    from rara.trading_settings import AccountSettings

log = logging.getLogger(__name__)
BY = "daemon:auto_approve"
SOURCE = "daemon"


def account_fit(home: Home, acct: AccountSettings, name: str) -> Callable[[StrategyRecord], None]:
    """An approval's check (`rara.feedback.lifecycle.approve`'s `fits_account`) that account
    `name` can trade the candidate's market, read from its manifest (or registry lock)."""

    def check(rec: StrategyRecord) -> None:
        from rara.trading.accounts import refuse_unfit_account  # ccxt: only when approving

        refuse_unfit_account(acct, name, rec.name, traded_instrument(home, home.root / rec.path))

    return check


class AutoApproval:
    """One conductor's auto-approvals; `step` each turn."""

    def __init__(self, home: Home, store: EventStore) -> None:
        self.home, self.store = home, store
        self._held: set[str] = set()  # the holds written (their event ids)

    def step(self, settings: Settings, lifecycle: Lifecycle) -> None:
        d = settings.daemon
        if not d.auto_approve or d.approve_account is None:
            return
        candidates = lifecycle.strategies("live_candidate")
        if not candidates:
            return
        from rara.trading.accounts import account_settings  # ccxt: only here

        for rec in candidates:
            try:
                acct = account_settings(settings, d.approve_account)
                account_fit(self.home, acct, d.approve_account)(rec)
            except RaraError as exc:
                why = f"{exc.message} ({exc.suggestion})" if exc.suggestion else exc.message
                self._hold_once(rec, f"auto_approve cannot trade it on {d.approve_account}: {why}")
                continue
            move(
                self.store,
                lifecycle,
                rec.strategy_id,
                "live",
                reason="auto_approve is set in [daemon]",
                by=BY,
                account=d.approve_account,
                event_id=f"auto-approve:{rec.strategy_id}:{rec.since_seq}",
                source=SOURCE,
            )

    def _hold_once(self, rec: StrategyRecord, reason: str) -> None:
        """A ``feedback_strategy_hold`` for `rec`, once per candidacy (its id names the stage's
        start), also across restarts (the log refuses the id a second time)."""
        event_id = f"auto-approve-held:{rec.strategy_id}:{rec.since_seq}"
        if event_id in self._held:
            return
        try:
            self.store.append(
                FeedbackStrategyHold(
                    strategy_id=rec.strategy_id, stage=rec.stage, reason=reason, decided_by=BY
                ),
                source=SOURCE,
                strategy_id=rec.strategy_id,
                event_id=event_id,
            )
            log.warning("%s held at live candidate: %s", rec.name, reason)
        except BadInput as exc:
            if exc.code != "event_duplicate_id":
                raise
        self._held.add(event_id)
