"""The risk gate: a pure function of (trading state and locks, account, order intent, limits) that
allows the intent or denies it naming the guard and its numbers.

    verdict = judge(control.snapshot(now_ms), account, intent, settings.trading.risk)
    if isinstance(verdict, Deny):   # journal a trading_order_rejected event, send nothing
        TradingOrderRejected(..., rejected_by="risk_gate", reason_code=verdict.code,
                             reason=verdict.message, context=verdict.context)

No I/O and no clock: "now" is the account's ``now_ms`` (the bar clock), so a replay judges the
same intents the same way every time. Cancels are not intents and never come here.

An intent *reduces* exposure when it sells (spot is long-only, so a sell can only shrink a
position; a ``reduce_only`` buy has nothing to reduce and is judged as the buy it is). Trading
states: ACTIVE (every guard applies), REDUCING (only reducing intents pass), HALTED (nothing passes,
except, after ``rara kill --flatten``, the engine's ``flatten`` sells). A reducing intent passes
every exposure guard (a stop-loss must always be able to sell) but never sells more than is held.

The guards, in the order they are asked (the first that says no is the verdict); `GUARDS` names
them, and `rara.trading_settings.RiskSettings` (``[trading.risk]``) holds every limit:

- ``trading_state``: anything while HALTED, a buy while REDUCING (trading_halted, trading_reducing);
- ``spot_no_short``: a sell of more than is held (sell_exceeds_position);
- ``symbol_allow_list``: a buy of a symbol not in allowed_symbols (symbol_not_allowed);
- ``lock``: a buy in the scope of an active lock (locked);
- ``stale_data``: a buy on a feed flagged stale or silent for N intervals (stale_data);
- ``order_rate``: a buy once max_orders were sent within the window (order_rate);
- ``spot_no_leverage``: a buy costing more than the free quote cash (buy_exceeds_free_cash), or
  paid in another currency than the account's (quote_currency_mismatch);
- ``max_position_notional``: the symbol's position at the mark, after the buy, over the limit;
- ``max_exposure``: all positions at their marks, after the buy, over a multiple of equity;
- ``drawdown``: a buy with equity too far below its running peak (max_drawdown);
- ``daily_loss``: a buy after losing too much since 00:00 UTC (max_daily_loss);
- ``window_loss``: a buy after losing too much in the rolling window (max_window_loss).

Every `Deny` carries ``context``: the guard's name, the symbol and mark, and its numbers (value,
limit and what they came from), as decimal strings.
"""

from __future__ import annotations

from rara.domain.money import wide
from rara.domain.orders import OrderIntent
from rara.trading.guards.checks import DAY_MS, GUARDS, HOUR_MS, Case
from rara.trading.guards.model import (
    AccountView,
    Allow,
    ControlState,
    Deny,
    EquityPoint,
    FeedView,
    Lock,
    PositionView,
    Verdict,
)
from rara.trading_settings import RiskSettings

__all__ = [
    "GUARDS",
    "AccountView",
    "Allow",
    "ControlState",
    "Deny",
    "EquityPoint",
    "FeedView",
    "Lock",
    "PositionView",
    "Verdict",
    "history_from_ms",
    "judge",
]


def judge(
    control: ControlState, account: AccountView, intent: OrderIntent, settings: RiskSettings
) -> Verdict:
    """Allow the intent, or deny it with the first guard (in `GUARDS` order) that refuses it."""
    with wide():  # the default 28 digits would round a balance before it is compared
        case = Case(control, account, intent)
        for guard in GUARDS.values():
            denied = guard(case, settings)
            if denied is not None:
                return denied
    return Allow()


def history_from_ms(now_ms: int, settings: RiskSettings) -> int:
    """The earliest time the guards look back to at `now_ms`: an `AccountView` needs the equity
    marks from the last one at or before it, and the submit times after it."""
    day_start = now_ms - now_ms % DAY_MS
    return min(
        day_start,
        now_ms - settings.loss_window_hours * HOUR_MS,
        now_ms - settings.order_window_s * 1000,
    )
