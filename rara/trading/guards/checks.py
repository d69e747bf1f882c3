"""The guards of the risk gate, in the order `judge` asks them (`GUARDS`): each looks at one
intent against one account and says nothing (pass) or returns the `Deny` naming its numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from types import MappingProxyType

from rara.domain.orders import OrderIntent, base_and_quote
from rara.trading.guards.model import AccountView, ControlState, Deny
from rara.trading_settings import RiskSettings

DAY_MS = 86_400_000
HOUR_MS = 3_600_000


class Case:
    """One intent against one account, with the numbers several guards share."""

    def __init__(self, control: ControlState, account: AccountView, intent: OrderIntent) -> None:
        self.control = control
        self.account = account
        self.intent = intent
        req = intent.request
        self.symbol = req.symbol
        self.mark = intent.mark_price
        self.reduces = req.side == "sell"
        self.held = account.held(self.symbol)
        self.equity = account.equity(self.symbol, self.mark)
        # a buy's worst cost in quote: its cost (fee included), or its size at the dearest price
        # it may fill at plus the fee; the value it adds, at the mark
        prices = [self.mark, req.limit_price or self.mark, req.trigger_price or self.mark]
        if req.cost is not None:
            self.buy_cost = self.added = req.cost
        else:
            qty = req.quantity or Decimal(0)
            self.added = qty * self.mark
            self.buy_cost = qty * max(prices) * (1 + account.fee_rate)

    def deny(self, code: str, guard: str, message: str, **numbers: object) -> Deny:
        context = {"guard": guard, "symbol": self.symbol, "mark": _text(self.mark)}
        context.update({k: _text(v) for k, v in numbers.items()})
        return Deny(code=code, guard=guard, message=message, context=context)

    def exposure_after(self) -> Decimal:
        """Every position at its mark (this symbol's at the intent's), after this buy."""
        total = Decimal(0)
        for sym, pos in self.account.positions.items():
            if sym != self.symbol:
                total += abs(pos.quantity) * pos.mark
        return total + abs(self.held) * self.mark + self.added


def _text(v: object) -> str:
    # fixed-point without trailing zeros: 5350.00 -> 5350, 1E+3 -> 1000
    return format(v.normalize(), "f") if isinstance(v, Decimal) else str(v)


def _ratio(num: Decimal, den: Decimal) -> Decimal:
    return num / den if den > 0 else Decimal(0)


Guard = Callable[[Case, RiskSettings], Deny | None]


def _trading_state(c: Case, s: RiskSettings) -> Deny | None:
    ctl = c.control
    if ctl.state == "HALTED":
        if ctl.flatten and c.reduces and c.intent.reason == "flatten":
            return None  # `rara kill --flatten`: the engine closes positions through the gate
        return c.deny(
            "trading_halted",
            "trading_state",
            f"trading is halted ({ctl.reason}); nothing is sent until `rara resume --confirm`",
            state=ctl.state,
            state_seq=ctl.state_seq,
            intent_reason=c.intent.reason,
        )
    if ctl.state == "REDUCING" and not c.reduces:
        return c.deny(
            "trading_reducing",
            "trading_state",
            f"trading is reducing ({ctl.reason}); only orders that shrink exposure are sent",
            state=ctl.state,
            state_seq=ctl.state_seq,
            side=c.intent.request.side,
        )
    return None


def _spot_no_short(c: Case, s: RiskSettings) -> Deny | None:
    qty = c.intent.request.quantity
    if not c.reduces or qty is None or qty <= c.held:
        return None
    return c.deny(
        "sell_exceeds_position",
        "spot_no_short",
        f"selling {_text(qty)} {c.symbol} would go short: {_text(c.held)} is held",
        quantity=qty,
        held=c.held,
    )


def _symbol_allowed(c: Case, s: RiskSettings) -> Deny | None:
    if c.reduces or s.allowed_symbols is None or c.symbol in s.allowed_symbols:
        return None
    return c.deny(
        "symbol_not_allowed",
        "symbol_allow_list",
        f"{c.symbol} is not in trading.risk.allowed_symbols",
        allowed=",".join(s.allowed_symbols),
    )


def _locks(c: Case, s: RiskSettings) -> Deny | None:
    if c.reduces:
        return None
    now = c.account.now_ms
    for lock in c.control.locks:
        if lock.active_at(now) and lock.covers(c.intent.strategy_id, c.symbol, c.account.name):
            return c.deny(
                "locked",
                "lock",
                f"a {lock.scope} lock by {lock.set_by} blocks new exposure: {lock.reason}",
                lock_id=lock.lock_id,
                scope=lock.scope,
                target=lock.target or "",
                until_ms=lock.until_ms if lock.until_ms is not None else "",
                now_ms=now,
            )
    return None


def _stale_data(c: Case, s: RiskSettings) -> Deny | None:
    if c.reduces or s.stale_after_intervals is None:
        return None
    feed = c.account.feeds.get(c.symbol)
    if feed is not None and feed.last_bar_ms is not None and not feed.stale:
        age = c.account.now_ms - (feed.last_bar_ms + feed.interval_ms)  # since it closed
        if age <= s.stale_after_intervals * feed.interval_ms:
            return None
    last = "" if feed is None or feed.last_bar_ms is None else feed.last_bar_ms
    return c.deny(
        "stale_data",
        "stale_data",
        f"the {c.symbol} feed is stale: no new exposure on an old mark",
        last_bar_ms=last,
        now_ms=c.account.now_ms,
        interval_ms=feed.interval_ms if feed is not None else "",
        flagged=feed.stale if feed is not None else "",
        limit_intervals=s.stale_after_intervals,
    )


def _order_rate(c: Case, s: RiskSettings) -> Deny | None:
    if c.reduces or s.max_orders is None:
        return None
    now, window = c.account.now_ms, s.order_window_s * 1000
    count = sum(1 for t in c.account.recent_submits_ms if now - window < t <= now)
    if count < s.max_orders:
        return None
    return c.deny(
        "order_rate",
        "order_rate",
        f"{count} orders in the last {s.order_window_s} s reach the limit of {s.max_orders}",
        value=count,
        limit=s.max_orders,
        window_s=s.order_window_s,
    )


def _spot_no_leverage(c: Case, s: RiskSettings) -> Deny | None:
    if c.reduces:
        return None
    quote = base_and_quote(c.symbol)[1]
    if quote != c.account.quote_currency:
        return c.deny(
            "quote_currency_mismatch",
            "spot_no_leverage",
            f"{c.symbol} is paid in {quote}; this account holds {c.account.quote_currency}",
            account_quote=c.account.quote_currency,
        )
    if c.buy_cost <= c.account.cash_free:
        return None
    return c.deny(
        "buy_exceeds_free_cash",
        "spot_no_leverage",
        f"the buy costs up to {_text(c.buy_cost)} {quote}; {_text(c.account.cash_free)} is free",
        value=c.buy_cost,
        limit=c.account.cash_free,
    )


def _max_position_notional(c: Case, s: RiskSettings) -> Deny | None:
    limit = s.max_position_notional
    if c.reduces or limit is None:
        return None
    after = abs(c.held) * c.mark + c.added
    if after <= limit:
        return None
    return c.deny(
        "max_position_notional",
        "max_position_notional",
        f"{c.symbol} would be worth {_text(after)} at the mark, above the limit {_text(limit)}",
        value=after,
        limit=limit,
        held=c.held,
        added=c.added,
    )


def _max_exposure(c: Case, s: RiskSettings) -> Deny | None:
    if c.reduces:
        return None
    after = c.exposure_after()
    if c.equity > 0 and after <= s.max_exposure * c.equity:
        return None
    return c.deny(
        "max_exposure",
        "max_exposure",
        f"exposure would be {_text(after)}, above {_text(s.max_exposure)} x equity "
        f"{_text(c.equity)}",
        value=after,
        equity=c.equity,
        multiple=_ratio(after, c.equity),
        limit=s.max_exposure,
    )


def _drawdown(c: Case, s: RiskSettings) -> Deny | None:
    if c.reduces or s.max_drawdown is None:
        return None
    peak = max(c.account.peak_equity, c.equity)
    fall = peak - c.equity
    if fall < s.max_drawdown * peak:
        return None
    return c.deny(
        "max_drawdown",
        "drawdown",
        f"equity {_text(c.equity)} is {_text(_ratio(fall, peak))} below its peak {_text(peak)}, "
        f"at or past the limit {_text(s.max_drawdown)}",
        value=_ratio(fall, peak),
        limit=s.max_drawdown,
        equity=c.equity,
        peak=peak,
    )


def _loss_since(
    c: Case, since_ms: int, limit: Decimal | None, code: str, what: str, **more: object
) -> Deny | None:
    if c.reduces or limit is None:
        return None
    start = c.account.equity_at(since_ms)
    if start is None or start <= 0:
        return None  # no history to lose from
    loss = start - c.equity
    if loss < limit * start:
        return None
    return c.deny(
        code,
        code.removeprefix("max_"),
        f"equity {_text(c.equity)} lost {_text(_ratio(loss, start))} {what} (from "
        f"{_text(start)}), at or past the limit {_text(limit)}",
        value=_ratio(loss, start),
        limit=limit,
        equity=c.equity,
        start_equity=start,
        since_ms=since_ms,
        **more,
    )


def _daily_loss(c: Case, s: RiskSettings) -> Deny | None:
    day = c.account.now_ms - c.account.now_ms % DAY_MS
    return _loss_since(c, day, s.max_daily_loss, "max_daily_loss", "since the UTC day began")


def _window_loss(c: Case, s: RiskSettings) -> Deny | None:
    since = c.account.now_ms - s.loss_window_hours * HOUR_MS
    what = f"in the last {s.loss_window_hours} h"
    return _loss_since(c, since, s.max_window_loss, "max_window_loss", what)


GUARDS: Mapping[str, Guard] = MappingProxyType(
    {
        "trading_state": _trading_state,
        "spot_no_short": _spot_no_short,
        "symbol_allow_list": _symbol_allowed,
        "lock": _locks,
        "stale_data": _stale_data,
        "order_rate": _order_rate,
        "spot_no_leverage": _spot_no_leverage,
        "max_position_notional": _max_position_notional,
        "max_exposure": _max_exposure,
        "drawdown": _drawdown,
        "daily_loss": _daily_loss,
        "window_loss": _window_loss,
    }
)
