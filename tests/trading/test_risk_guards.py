"""Each guard of the risk gate (`rara.trading.risk`) tripped with real numbers: the Deny's code,
guard and context are what a ``trading_order_rejected`` event records; and the defaults never
bind on a plain paper account that puts all its cash in one long position."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from rara.domain.events import TradingOrderRejected
from rara.domain.orders import OrderIntent, OrderRequest
from rara.trading.risk import (
    GUARDS,
    AccountView,
    Allow,
    ControlState,
    Deny,
    EquityPoint,
    FeedView,
    Lock,
    PositionView,
    history_from_ms,
    judge,
)
from rara.trading_settings import RiskSettings

H = 3_600_000
NOW = 1_717_200_000_000 + 14 * H  # 2024-06-01 14:00 UTC, a bar close
BTC = "BTC/USDT"
MARK = D("67432.15")


def intent(
    side: str = "buy",
    *,
    quantity: str | None = None,
    cost: str | None = None,
    symbol: str = BTC,
    mark: D = MARK,
    reason: str = "entry",
    strategy_id: str = "sma-cross-1a2b",
    limit_price: str | None = None,
) -> OrderIntent:
    if quantity is None and cost is None:
        quantity = "0.01"
    return OrderIntent(
        seq=0,
        strategy_id=strategy_id,
        correlation_id="paper-run-1",
        request=OrderRequest(
            client_order_id="rara0001",
            symbol=symbol,
            side=side,  # type: ignore[arg-type]
            order_type="limit" if limit_price else "market",
            quantity=quantity,
            cost=cost,
            limit_price=limit_price,
        ),
        reason=reason,  # type: ignore[arg-type]
        signal_bar_ms=NOW - H,
        mark_price=mark,
    )


def account(cash: str = "10000", held: str = "0", *, mark: D = MARK, **over: Any) -> AccountView:
    fields: dict[str, Any] = {
        "now_ms": NOW,
        "quote_currency": "USDT",
        "cash": D(cash),
        "cash_free": D(cash),
        "positions": {BTC: PositionView(quantity=D(held), mark=mark)} if D(held) else {},
        "peak_equity": D(cash) + D(held) * mark,
        "feeds": {BTC: FeedView(last_bar_ms=NOW - H, interval_ms=H)},
    }
    fields.update(over)
    return AccountView(**fields)


def denied(verdict: Allow | Deny, code: str, guard: str, **context: str) -> Deny:
    assert isinstance(verdict, Deny), verdict
    assert (verdict.code, verdict.guard) == (code, guard), verdict
    assert verdict.context["guard"] == guard and verdict.context["symbol"] == BTC
    for key, value in context.items():
        assert verdict.context[key] == value, (key, verdict.context)
    # exactly what the rejection event records
    TradingOrderRejected(
        client_order_id="rara0001",
        strategy_id="sma-cross-1a2b",
        account="paper:run-1",
        exchange="binance",
        mode="paper",
        symbol=BTC,
        side="buy",
        quantity=None,
        rejected_by="risk_gate",
        reason_code=verdict.code,
        reason=verdict.message,
        context=verdict.context,
    )
    return verdict


ACTIVE = ControlState()
DEFAULTS = RiskSettings()


def test_halted_sends_nothing_but_the_flatten_it_asked_for() -> None:
    halted = ControlState(state="HALTED", reason="operator", state_seq=41)
    long = account("0", "0.15")
    for i in (intent(), intent("sell", quantity="0.15", reason="stop_loss")):
        denied(judge(halted, long, i, DEFAULTS), "trading_halted", "trading_state", state_seq="41")
    flat = intent("sell", quantity="0.15", reason="flatten")
    denied(judge(halted, long, flat, DEFAULTS), "trading_halted", "trading_state")
    flattening = halted.model_copy(update={"flatten": True})
    assert judge(flattening, long, flat, DEFAULTS) == Allow()
    denied(
        judge(flattening, long, intent(reason="flatten"), DEFAULTS),
        "trading_halted",
        "trading_state",
    )
    assert flattening.kill_seq == 41 and ACTIVE.kill_seq is None


def test_reducing_lets_only_sells_through() -> None:
    reducing = ControlState(state="REDUCING", reason="reconciliation", state_seq=7)
    long = account("5000", "0.1")
    denied(judge(reducing, long, intent(cost="100"), DEFAULTS), "trading_reducing", "trading_state")
    assert judge(reducing, long, intent("sell", quantity="0.1", reason="exit"), DEFAULTS) == Allow()
    # a reduce_only buy has nothing to reduce on spot
    buy = intent(quantity="0.001")
    flagged = buy.model_copy(
        update={"request": buy.request.model_copy(update={"reduce_only": True})}
    )
    denied(judge(reducing, long, flagged, DEFAULTS), "trading_reducing", "trading_state")


def test_no_short_on_spot() -> None:
    v = judge(ACTIVE, account("0", "0.2"), intent("sell", quantity="0.25"), DEFAULTS)
    denied(v, "sell_exceeds_position", "spot_no_short", quantity="0.25", held="0.2")
    v = judge(ACTIVE, account(), intent("sell", quantity="0.00000001"), DEFAULTS)
    denied(v, "sell_exceeds_position", "spot_no_short", held="0")
    assert judge(ACTIVE, account("0", "0.2"), intent("sell", quantity="0.2"), DEFAULTS) == Allow()


def test_symbol_allow_list() -> None:
    only_eth = RiskSettings(allowed_symbols=("ETH/USDT",))
    v = judge(ACTIVE, account(), intent(cost="500"), only_eth)
    denied(v, "symbol_not_allowed", "symbol_allow_list", allowed="ETH/USDT")
    # a position outside the list can still be closed
    assert judge(ACTIVE, account("0", "0.1"), intent("sell", quantity="0.1"), only_eth) == Allow()


def _lock(scope: str, target: str | None, until_ms: int | None) -> Lock:
    return Lock(
        lock_id=f"lock-{scope}",
        scope=scope,  # type: ignore[arg-type]
        target=target,
        until_ms=until_ms,
        reason="sentinel: drawdown breach",
        set_by="sentinel",
        seq=3,
    )


@pytest.mark.parametrize(
    ("scope", "target"), [("global", None), ("strategy", "sma-cross-1a2b"), ("symbol", BTC)]
)
def test_a_lock_blocks_new_exposure_in_its_scope_until_it_lapses(
    scope: str, target: str | None
) -> None:
    locked = ControlState(locks=(_lock(scope, target, NOW + H),))
    v = judge(locked, account(), intent(cost="1000"), DEFAULTS)
    denied(v, "locked", "lock", lock_id=f"lock-{scope}", scope=scope, until_ms=str(NOW + H))
    lapsed = ControlState(locks=(_lock(scope, target, NOW),))
    assert judge(lapsed, account(), intent(cost="1000"), DEFAULTS) == Allow()
    assert judge(locked, account("0", "0.1"), intent("sell", quantity="0.1"), DEFAULTS) == Allow()


def test_a_lock_elsewhere_does_not_block() -> None:
    other = ControlState(
        locks=(_lock("strategy", "rsi-revert-9f", None), _lock("symbol", "ETH/USDT", None))
    )
    assert judge(other, account(), intent(cost="1000"), DEFAULTS) == Allow()


def test_stale_data() -> None:
    # the last bar opened at 10:00 and closed at 11:00: three hours ago is more than 2 intervals
    old = account(feeds={BTC: FeedView(last_bar_ms=NOW - 4 * H, interval_ms=H)})
    v = judge(ACTIVE, old, intent(cost="1000"), DEFAULTS)
    denied(v, "stale_data", "stale_data", last_bar_ms=str(NOW - 4 * H), limit_intervals="2")
    two_late = account(feeds={BTC: FeedView(last_bar_ms=NOW - 3 * H, interval_ms=H)})
    assert judge(ACTIVE, two_late, intent(cost="1000"), DEFAULTS) == Allow()
    flagged = account(feeds={BTC: FeedView(last_bar_ms=NOW - H, interval_ms=H, stale=True)})
    denied(
        judge(ACTIVE, flagged, intent(cost="1000"), DEFAULTS),
        "stale_data",
        "stale_data",
        flagged="True",
    )
    unfed = account(feeds={})
    denied(judge(ACTIVE, unfed, intent(cost="1000"), DEFAULTS), "stale_data", "stale_data")
    assert (
        judge(ACTIVE, unfed, intent(cost="1000"), RiskSettings(stale_after_intervals=None))
        == Allow()
    )


def test_order_rate() -> None:
    limit = RiskSettings(max_orders=3, order_window_s=600)
    busy = account(recent_submits_ms=(NOW - 900_000, NOW - 500_000, NOW - 60_000, NOW))
    v = judge(ACTIVE, busy, intent(cost="100"), limit)
    denied(v, "order_rate", "order_rate", value="3", limit="3", window_s="600")
    calmer = account(recent_submits_ms=(NOW - 900_000, NOW - 600_000, NOW - 60_000, NOW))
    assert judge(ACTIVE, calmer, intent(cost="100"), limit) == Allow()
    # a stop-loss is never rate limited
    long_busy = busy.model_copy(
        update={"positions": {BTC: PositionView(quantity=D("0.1"), mark=MARK)}}
    )
    assert judge(ACTIVE, long_busy, intent("sell", quantity="0.1"), limit) == Allow()


def test_no_leverage_on_spot() -> None:
    v = judge(ACTIVE, account(), intent(cost="10000.01"), DEFAULTS)
    denied(v, "buy_exceeds_free_cash", "spot_no_leverage", value="10000.01", limit="10000")
    # by quantity: at the dearest price (the limit) with the fee
    feeing = account(fee_rate=D("0.001"))
    v = judge(ACTIVE, feeing, intent(quantity="0.1481", limit_price="67500"), DEFAULTS)
    denied(v, "buy_exceeds_free_cash", "spot_no_leverage", value="10006.74675", limit="10000")
    assert isinstance(
        judge(ACTIVE, feeing, intent(quantity="0.147", limit_price="67500"), DEFAULTS), Allow
    )
    eth_btc = account(feeds={"ETH/BTC": FeedView(last_bar_ms=NOW - H, interval_ms=H)})
    v = judge(ACTIVE, eth_btc, intent(cost="10", symbol="ETH/BTC", mark=D("0.05")), DEFAULTS)
    assert isinstance(v, Deny) and v.code == "quote_currency_mismatch"


def test_max_position_notional_at_the_current_mark() -> None:
    capped = RiskSettings(max_position_notional=D("5000"))
    # 0.07 BTC bought at 50,000 is worth 4,720.2505 at today's mark; 0.005 more is 5,057.41125
    long = account("6000", "0.07")
    v = judge(ACTIVE, long, intent(quantity="0.005"), capped)
    denied(v, "max_position_notional", "max_position_notional", value="5057.41125", limit="5000")
    assert judge(ACTIVE, long, intent(quantity="0.004"), capped) == Allow()
    # the same position at a lower mark leaves room
    cheaper = account("6000", "0.07", mark=D("60000"))
    assert judge(ACTIVE, cheaper, intent(quantity="0.005", mark=D("60000")), capped) == Allow()


def test_max_exposure_as_a_multiple_of_equity() -> None:
    half = RiskSettings(max_exposure=D("0.5"))
    v = judge(ACTIVE, account(), intent(cost="5000.01"), half)
    denied(v, "max_exposure", "max_exposure", value="5000.01", equity="10000", limit="0.5")
    assert judge(ACTIVE, account(), intent(cost="5000"), half) == Allow()
    # other symbols count, at their own marks
    eth = {"ETH/USDT": PositionView(quantity=D("1.5"), mark=D("3500"))}
    mixed = account("4750", positions=eth, peak_equity=D("10000"))
    v = judge(ACTIVE, mixed, intent(cost="100"), half)
    denied(v, "max_exposure", "max_exposure", value="5350", equity="10000")


def test_drawdown_from_the_running_peak() -> None:
    dd = RiskSettings(max_drawdown=D("0.2"))
    down = account("2000", "0.11", peak_equity=D("12000"))  # equity 9,417.5365
    v = judge(ACTIVE, down, intent(cost="500"), dd)
    denied(v, "max_drawdown", "drawdown", equity="9417.5365", peak="12000", limit="0.2")
    assert (
        judge(ACTIVE, down.model_copy(update={"peak_equity": D("11500")}), intent(cost="500"), dd)
        == Allow()
    )
    assert judge(ACTIVE, down, intent("sell", quantity="0.11", reason="stop_loss"), dd) == Allow()


def test_daily_loss_from_the_days_starting_equity() -> None:
    daily = RiskSettings(max_daily_loss=D("0.05"))
    day = NOW - 14 * H
    marks = (
        EquityPoint(at_ms=day - H, equity=D("10400")),
        EquityPoint(at_ms=day, equity=D("10000")),  # 00:00 UTC: the day starts here
        EquityPoint(at_ms=day + 5 * H, equity=D("10300")),
    )
    v = judge(
        ACTIVE,
        account("9500", equity_marks=marks, peak_equity=D("10400")),
        intent(cost="100"),
        daily,
    )
    denied(v, "max_daily_loss", "daily_loss", value="0.05", start_equity="10000", since_ms=str(day))
    ok = account("9501", equity_marks=marks, peak_equity=D("10400"))
    assert judge(ACTIVE, ok, intent(cost="100"), daily) == Allow()


def test_rolling_window_loss() -> None:
    window = RiskSettings(max_window_loss=D("0.08"), loss_window_hours=6)
    marks = tuple(
        EquityPoint(at_ms=NOW - k * H, equity=D(e))
        for k, e in [(8, "9000"), (6, "10500"), (3, "10000"), (1, "9800")]
    )
    v = judge(
        ACTIVE,
        account("9660", equity_marks=marks, peak_equity=D("10500")),
        intent(cost="100"),
        window,
    )
    denied(v, "max_window_loss", "window_loss", value="0.08", start_equity="10500")
    # a day limit would not see it: the day started at 00:00, before all these marks
    assert (
        judge(
            ACTIVE,
            account("9661", equity_marks=marks, peak_equity=D("10500")),
            intent(cost="100"),
            window,
        )
        == Allow()
    )


def _trips() -> dict[str, tuple[ControlState, AccountView, OrderIntent, RiskSettings]]:
    """The smallest case that trips each guard, so a guard added to GUARDS needs one here."""
    buy = intent(cost="100")
    return {
        "trading_state": (ControlState(state="HALTED"), account(), buy, DEFAULTS),
        "spot_no_short": (ACTIVE, account(), intent("sell"), DEFAULTS),
        "symbol_allow_list": (ACTIVE, account(), buy, RiskSettings(allowed_symbols=("X/USDT",))),
        "lock": (ControlState(locks=(_lock("global", None, None),)), account(), buy, DEFAULTS),
        "stale_data": (ACTIVE, account(feeds={}), buy, DEFAULTS),
        "order_rate": (ACTIVE, account(recent_submits_ms=(NOW,)), buy, RiskSettings(max_orders=1)),
        "spot_no_leverage": (ACTIVE, account("99"), buy, DEFAULTS),
        "max_position_notional": (
            ACTIVE,
            account(),
            buy,
            RiskSettings(max_position_notional=D("99")),
        ),
        "max_exposure": (ACTIVE, account(), buy, RiskSettings(max_exposure=D("0.001"))),
        "drawdown": (
            ACTIVE,
            account(peak_equity=D("20000")),
            buy,
            RiskSettings(max_drawdown=D("0.5")),
        ),
        "daily_loss": (
            ACTIVE,
            account(equity_marks=(EquityPoint(at_ms=NOW - H, equity=D("20000")),)),
            buy,
            RiskSettings(max_daily_loss=D("0.5")),
        ),
        "window_loss": (
            ACTIVE,
            account(equity_marks=(EquityPoint(at_ms=NOW - 36 * H, equity=D("20000")),)),
            buy,
            RiskSettings(max_window_loss=D("0.5"), loss_window_hours=48),
        ),
    }


@pytest.mark.parametrize("guard", list(GUARDS))
def test_every_guard_trips(guard: str) -> None:
    control, acct, i, limits = _trips()[guard]
    verdict = judge(control, acct, i, limits)
    assert isinstance(verdict, Deny) and verdict.guard == guard, verdict


@pytest.mark.parametrize("mark", ["0.01", "13.37", "42150.5", "99999.99"])
def test_defaults_never_bind_on_an_all_in_paper_account(mark: str) -> None:
    """The backtest's account: all cash into one long at the next open, all of it out again."""
    m = D(mark)
    flat = account(mark=m, fee_rate=D("0.001"))
    assert judge(ACTIVE, flat, intent(cost="10000", mark=m), DEFAULTS) == Allow()
    qty = (D("10000") / D("1.001") / m).quantize(D("0.00000001"), rounding="ROUND_DOWN")
    long = account("0.5", str(qty), mark=m * 3, peak_equity=D("10000") * 5)
    assert (
        judge(ACTIVE, long, intent("sell", quantity=str(qty), mark=m * 3, reason="exit"), DEFAULTS)
        == Allow()
    )
    # after a 90% crash the next entry still goes in
    poor = account("1000", mark=m, peak_equity=D("10000"))
    assert judge(ACTIVE, poor, intent(cost="1000", mark=m), DEFAULTS) == Allow()


def test_history_reaches_back_to_what_the_loss_and_rate_guards_read() -> None:
    assert history_from_ms(NOW, DEFAULTS) == NOW - 24 * H  # the rolling day, before 00:00
    short = RiskSettings(loss_window_hours=3, order_window_s=600)
    assert history_from_ms(NOW, short) == NOW - 14 * H  # 00:00 UTC
    long_rate = RiskSettings(loss_window_hours=1, order_window_s=86_400 * 2)
    assert history_from_ms(NOW, long_rate) == NOW - 48 * H
