"""The intent path: from what the engine wants to a journaled order, the same for paper and live.

An intent gets the deployment's next sequence number and its deterministic client order id; a
venue with market rules (`RuledVenue`) conforms it to the market's precision and minimums (a
refusal names the rule); the kill switch is read again and the risk gate judges it on the
account as the ledger has it; then it is journaled and sent, or journaled as refused. An intent
the journal already has (a restart re-deriving it) is resolved, never made twice.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from rara.domain.events import IntentReason
from rara.domain.money import ZERO, exact
from rara.domain.orders import OrderIntent, OrderRequest
from rara.trading.account import AccountBook
from rara.trading.control import Control
from rara.trading.deployment import Deployment, EngineProgress
from rara.trading.guards.model import AccountView
from rara.trading.journal import ManagedOrder
from rara.trading.market_rules import MarketRules, RuleRefusal, conform
from rara.trading.orders import OrderManager
from rara.trading.risk import Deny, judge
from rara.trading.venue import RuledVenue
from rara.trading_settings import RiskSettings


class IntentPath:
    """One deployment's intents, from wish to journal. `clock()` is the engine's (the close of
    the last closed bar); `feed_state()` the open time of that bar and whether the feed is
    stale (the stale-data guard's inputs)."""

    def __init__(
        self,
        deployment: Deployment,
        orders: OrderManager,
        control: Control,
        account: AccountBook,
        risk: RiskSettings,
        progress: EngineProgress,
        ruled: RuledVenue | None,
        clock: Callable[[], int],
        feed_state: Callable[[], tuple[int | None, bool]],
    ) -> None:
        self.dep = deployment
        self.orders = orders
        self.control = control
        self.account = account
        self.risk = risk
        self.progress = progress
        self.ruled = ruled
        self._clock = clock
        self._feed_state = feed_state
        self._rules: MarketRules | None = None  # read from the venue's markets on first use

    def intend(
        self,
        reason: IntentReason,
        bar_ms: int | None,
        mark: Decimal,
        *,
        stop_loss_fraction: float | None = None,
        take_profit_fraction: float | None = None,
        **request: object,
    ) -> ManagedOrder:
        """One order intent: judged by the risk gate, journaled, sent (or journaled as
        denied); the order it made."""
        intent = self.intent_of(
            reason,
            bar_ms,
            mark,
            stop_loss_fraction=stop_loss_fraction,
            take_profit_fraction=take_profit_fraction,
            **request,
        )
        if self.orders.find(intent) is not None:  # journaled before a restart: resolve, not redo
            return self.orders.submit(intent)
        if self.ruled is not None:  # the exchange's precision and minimums, before the gate
            conformed = self._conform(intent)
            if isinstance(conformed, RuleRefusal):
                self.count_denial(conformed.code)
                return self.orders.reject(
                    intent, conformed.code, conformed.message, conformed.context, by="market_rules"
                )
            intent = conformed
        self.control.refresh()  # a kill from another process takes effect before this order
        now = self._clock()
        verdict = judge(self.control.snapshot(now), self.account_view(mark), intent, self.risk)
        if isinstance(verdict, Deny):
            self.count_denial(verdict.code)
            return self.orders.reject(intent, verdict.code, verdict.message, verdict.context)
        self.progress.intents += 1
        order = self.orders.submit(
            intent, may_send=lambda at: not self.control.halted_before(at, reason=reason)
        )
        self.account.submitted(now)
        return order

    def sell_at_market(
        self, reason: IntentReason, bar_ms: int, mark: Decimal, quantity: Decimal
    ) -> ManagedOrder:
        """A reduce-only market sale of `quantity` (an exit, the end, a flatten, a passed stop)."""
        return self.intend(
            reason,
            bar_ms,
            mark,
            side="sell",
            order_type="market",
            quantity=quantity,
            reduce_only=True,
        )

    def count_denial(self, code: str) -> None:
        self.progress.intents += 1
        self.progress.denied += 1
        self.progress.denials[code] = self.progress.denials.get(code, 0) + 1

    def intent_of(
        self,
        reason: IntentReason,
        bar_ms: int | None,
        mark: Decimal,
        *,
        stop_loss_fraction: float | None = None,
        take_profit_fraction: float | None = None,
        **request: object,
    ) -> OrderIntent:
        """The intent with the deployment's next sequence number and its client order id."""
        seq = self.orders.next_seq()
        return OrderIntent(
            seq=seq,
            strategy_id=self.dep.strategy_id,
            correlation_id=self.dep.run_id,
            request=OrderRequest(
                client_order_id=self.orders.client_order_id(seq),
                symbol=self.dep.symbol,
                **request,
            ),
            reason=reason,
            signal_bar_ms=bar_ms,
            mark_price=mark,
            stop_loss_fraction=stop_loss_fraction,
            take_profit_fraction=take_profit_fraction,
        )

    def account_view(self, mark: Decimal) -> AccountView:
        """The account as the risk gate sees it, valued at `mark`."""
        with exact():
            reserved = sum(
                (o.cost or ZERO for o in self.orders.open_orders() if o.side == "buy"), ZERO
            )
        last_bar_ms, stale = self._feed_state()
        return self.account.view(self._clock(), mark, reserved, last_bar_ms, stale)

    def _conform(self, intent: OrderIntent) -> OrderIntent | RuleRefusal:
        assert self.ruled is not None
        if self._rules is None:
            self._rules = self.ruled.market_rules(self.dep.symbol)
        request = conform(self._rules, intent.request, intent.mark_price)
        if isinstance(request, RuleRefusal):
            return request
        return OrderIntent.model_validate({**intent.model_dump(), "request": request})
