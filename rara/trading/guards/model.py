"""The risk gate's inputs and verdicts: the trading state and locks (`ControlState`), the account
as the guards see it (`AccountView`), and `Allow` / `Deny`. Frozen models, money as exact decimals.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rara.domain.events import ExactDecimal, LockScope, TradingState


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---- inputs ------------------------------------------------------------------------------------


class Lock(_Model):
    """No new exposure in the scope (every strategy and symbol; one strategy_id; one symbol; one
    account, which is how an account goes REDUCING) until ``until_ms`` (None: until released).
    From a ``trading_lock_set`` event."""

    lock_id: str = Field(min_length=1)
    scope: LockScope
    target: str | None = Field(description="strategy_id, symbol or account; None for global")
    until_ms: int | None
    reason: str
    set_by: str
    seq: int = Field(ge=1, description="the event that set it")

    @model_validator(mode="after")
    def _target(self) -> Lock:
        if (self.scope == "global") != (self.target is None):
            raise ValueError("a global lock has no target; any other lock has one")
        return self

    def active_at(self, now_ms: int) -> bool:
        return self.until_ms is None or now_ms < self.until_ms

    def covers(self, strategy_id: str, symbol: str, account: str = "") -> bool:
        if self.scope == "global":
            return True
        named = {"strategy": strategy_id, "symbol": symbol, "account": account}[self.scope]
        return self.target == named


class ControlState(_Model):
    """The trading state and the locks, as `rara.trading.control.Control` projects them from the
    event log."""

    state: TradingState = "ACTIVE"
    flatten: bool = Field(False, description="HALTED by `rara kill --flatten`: close positions")
    reason: str = ""
    state_seq: int | None = Field(None, description="the event that set the state; None: never")
    locks: tuple[Lock, ...] = ()

    @property
    def kill_seq(self) -> int | None:
        """The seq of the event that halted trading, while it is halted: no order after it."""
        return self.state_seq if self.state == "HALTED" else None


class PositionView(_Model):
    """One symbol held: base units (total, resting sells included) and the mark it is valued at."""

    quantity: ExactDecimal = Field(description="base units held")
    mark: ExactDecimal = Field(gt=0, description="quote per base: the last close")


class FeedView(_Model):
    """What the engine knows of a symbol's feed."""

    last_bar_ms: int | None = Field(description="open time of the last closed bar; None: none yet")
    interval_ms: int = Field(gt=0, description="the timeframe's length")
    stale: bool = Field(False, description="the feed said it is stale (trading_feed_stale)")


class EquityPoint(_Model):
    """The account's equity at a time (a ``trading_equity_marked`` event at a bar's close)."""

    at_ms: int
    equity: ExactDecimal


class AccountView(_Model):
    """What the guards need of one account, built by the engine from the ledger and its bar
    clock. Money in the account's quote currency, as exact decimals. A symbol without a
    `FeedView` has no trustworthy mark: the stale-data guard refuses to add to it.
    `rara.trading.risk.history_from_ms` says how far back marks and submit times must reach."""

    now_ms: int = Field(description="the engine's clock: the close time of the last closed bar")
    name: str = Field("", description="the ledger account (what an account lock names)")
    quote_currency: str = Field(min_length=1, description="e.g. USDT")
    cash: ExactDecimal = Field(description="quote held, reserved by open buys included")
    cash_free: ExactDecimal = Field(description="quote not reserved by open orders")
    positions: dict[str, PositionView] = Field(default_factory=dict, description="by symbol")
    peak_equity: ExactDecimal = Field(description="the running equity peak (ledger's marks)")
    equity_marks: tuple[EquityPoint, ...] = Field(
        (), description="oldest first; at least the UTC day and the rolling loss window"
    )
    recent_submits_ms: tuple[int, ...] = Field(
        (), description="submit times (engine clock) of orders in the rate window"
    )
    feeds: dict[str, FeedView] = Field(default_factory=dict, description="by symbol")
    fee_rate: ExactDecimal = Field(
        Decimal(0), ge=0, description="the venue's taker fee: a buy by quantity must afford it"
    )

    def held(self, symbol: str) -> Decimal:
        pos = self.positions.get(symbol)
        return pos.quantity if pos is not None else Decimal(0)

    def equity(self, symbol: str | None = None, mark: Decimal | None = None) -> Decimal:
        """Cash plus every position at its mark (`symbol`'s at `mark`, when given)."""
        total = self.cash
        for sym, pos in self.positions.items():
            total += pos.quantity * (mark if sym == symbol and mark is not None else pos.mark)
        return total

    def equity_at(self, at_ms: int) -> Decimal | None:
        """The equity held at `at_ms`: the last mark at or before it, else (an account younger
        than that) its first mark; None without marks. Marks after ``now_ms`` are not known."""
        first: Decimal | None = None
        held: Decimal | None = None
        for point in self.equity_marks:
            if point.at_ms > self.now_ms:
                break
            if first is None:
                first = point.equity
            if point.at_ms <= at_ms:
                held = point.equity
        return held if held is not None else first

    @model_validator(mode="after")
    def _marks_in_order(self) -> AccountView:
        times = [p.at_ms for p in self.equity_marks]
        if times != sorted(times):
            raise ValueError("equity_marks must be oldest first")
        return self


# ---- verdicts ----------------------------------------------------------------------------------


class Allow(_Model):
    """The intent may be journaled and sent."""

    allowed: Literal[True] = True


class Deny(_Model):
    """The intent is refused: what a ``trading_order_rejected`` event records (``reason_code`` =
    code, ``reason`` = message, ``context`` = the guard's numbers, the guard's name included)."""

    allowed: Literal[False] = False
    code: str = Field(description="stable, e.g. max_position_notional")
    guard: str
    message: str
    context: dict[str, str]


Verdict = Allow | Deny
