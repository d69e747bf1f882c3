"""What a reconciliation (`rara.trading.reconcile`) reports, and what people and the engine do
with it: the report (journaled as ``trading_reconciled``), the start-up check that refuses to
trade on a failed pass, and acknowledging an account's external orders (releasing their locks).
`append_once` writes an event under a deterministic id unless the log has it already, which is
how a reconciliation, the engine and the watchdog each write a finding once.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from rara.domain.events import (
    EventPayload,
    ExactDecimal,
    ReconcileTrigger,
    TradingMode,
    TradingReconciled,
)
from rara.errors import BadInput, Refused
from rara.events import EventStore
from rara.trading.control import Control, release_lock


class ReconcileReport(BaseModel):
    """What one pass found and did (journaled as ``trading_reconciled``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account: str
    exchange: str
    mode: TradingMode
    trigger: ReconcileTrigger
    ok: bool
    open_orders_journal: int = 0
    open_orders_venue: int = 0
    fills_booked: int = Field(0, description="our fills and external fills booked now")
    orders_resolved: int = 0
    external_orders: list[str] = Field(default_factory=list, description="venue order ids")
    external_fills: list[str] = Field(default_factory=list, description="fill ids found now")
    funded: dict[str, ExactDecimal] = Field(
        default_factory=dict, description="opening balances booked now, per currency"
    )
    balances: dict[str, ExactDecimal] = Field(default_factory=dict)
    discrepancies: list[str] = Field(default_factory=list)
    error: str | None = None

    def event(self) -> TradingReconciled:
        return TradingReconciled(
            **self.model_dump(exclude={"external_fills", "funded"}),
        )


def external_lock_id(account: str, venue_order_id: str) -> str:
    return f"external:{account}:{venue_order_id}"


def acknowledge_external(store: EventStore, account: str, *, reason: str, by: str) -> list[str]:
    """Release every lock an external order of `account` set (a person has looked at them):
    the lock ids released; Refused ``external_none`` if none is held."""
    prefix = external_lock_id(account, "")
    held = [lock.lock_id for lock in Control(store).locks() if lock.lock_id.startswith(prefix)]
    if not held:
        raise Refused(
            "external_none",
            f"account {account} holds no lock for an external order",
            "`rara locks` lists the locks held",
        )
    for lock_id in held:
        release_lock(store, lock_id, reason=reason, by=by)
    return held


def append_once(store: EventStore, payload: EventPayload, event_id: str, source: str) -> bool:
    """Append `payload` as `event_id` unless the log has it (by another writer too); whether
    it was written now."""
    if store.has_event(event_id):
        return False
    try:
        store.append(payload, source=source, event_id=event_id)
    except BadInput as exc:
        if exc.code != "event_duplicate_id":
            raise
        return False
    return True


def startup_check(report: ReconcileReport) -> None:
    """Refuse to trade on `report` when its pass failed: a query without an answer, or a
    ledger that differs from the venue. External orders do not refuse: their lock holds the
    account in REDUCING."""
    if report.error is not None:
        raise Refused(
            "reconcile_failed",
            f"account {report.account} at {report.exchange}: reconciliation could not read "
            f"the venue ({report.error}); nothing was concluded, so the engine does not trade",
            "check the connection and the keys, then start again (`rara accounts` shows the "
            "last reconciliation)",
        )
    if report.discrepancies:
        raise Refused(
            "reconcile_discrepancy",
            f"account {report.account} at {report.exchange}: the ledger differs from the "
            f"venue: {'; '.join(report.discrepancies)}",
            "find the movement the ledger lacks (a deposit, a withdrawal, a trade older than "
            "the trades lookback) and book it (`rara ledger` commands), then start again",
        )
