"""One deployment's account as the engine sees it between bars: its holdings (read from the
ledger, cached until the next fill is booked), its equity marks and running peak, and the times
of its recent submits; from these, the `AccountView` the risk gate judges an intent on, and the
``trading_equity_marked`` payload that ends each bar.

Only what the guards look back over is kept (`rara.trading.risk.history_from_ms`: the UTC day,
the rolling loss window, the order-rate window), so a run of any length costs the same per bar.
A resumed run starts from its journal's past (`rara.trading.resume.run_past`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from rara.domain.events import TradingEquityMarked
from rara.domain.money import ZERO, exact, from_float
from rara.ledger import Ledger
from rara.trading.guards.model import AccountView, EquityPoint, FeedView, PositionView
from rara.trading.risk import history_from_ms
from rara.trading_settings import RiskSettings


@dataclass(frozen=True, slots=True)
class AccountKey:
    """Which ledger account, in which market, and at what costs."""

    account: str
    symbol: str
    base: str
    quote: str
    interval_ms: int
    fee: float


class AccountBook:
    def __init__(
        self,
        key: AccountKey,
        ledger: Ledger,
        risk: RiskSettings,
        *,
        peak_equity: Decimal,
        marks: Sequence[EquityPoint] = (),
        submits_ms: Sequence[int] = (),
        unmarked_submits: int = 0,
    ) -> None:
        self.key = key
        self.ledger = ledger
        self.risk = risk
        self.peak = peak_equity
        self._marks: list[EquityPoint] = list(marks)  # a resumed run's loss guards see its past
        self._submits: list[int] = list(submits_ms)
        self._unmarked = unmarked_submits  # submits of the bar being redone: dated when it is
        # Only the engine books into its account, so what the ledger said holds until the next
        # fill is booked (`fills_booked`).
        self._held: tuple[Decimal, Decimal] | None = None

    def holdings(self) -> tuple[Decimal, Decimal]:
        """(quote cash, base position) as the ledger has them."""
        if self._held is None:
            balances = self.ledger.state(self.key.account).balances
            self._held = balances.get(self.key.quote, ZERO), balances.get(self.key.base, ZERO)
        return self._held

    def fills_booked(self) -> None:
        self._held = None

    def submitted(self, now_ms: int) -> None:
        self._submits.append(now_ms)

    def bar_started(self, now_ms: int) -> None:
        """A resumed run redoes its first bar: the submits journaled on it before the crash
        count from now, as the uninterrupted run counted them."""
        if self._unmarked:
            self._submits += [now_ms] * self._unmarked
            self._unmarked = 0

    def view(
        self,
        now_ms: int,
        mark: Decimal,
        buys_reserved: Decimal,
        last_bar_ms: int | None,
        stale: bool,
    ) -> AccountView:
        """The account for the risk gate at `now_ms`, the intent's symbol valued at `mark`."""
        since = history_from_ms(now_ms, self.risk)
        cash, held = self.holdings()
        with exact():
            cash_free = cash - buys_reserved
        k = self.key
        return AccountView(
            now_ms=now_ms,
            name=k.account,
            quote_currency=k.quote,
            cash=cash,
            cash_free=cash_free,
            positions={k.symbol: PositionView(quantity=held, mark=mark)} if held else {},
            peak_equity=self.peak,
            equity_marks=tuple(since_last_before(self._marks, since)),
            recent_submits_ms=tuple(t for t in self._submits if t > since),
            feeds={
                k.symbol: FeedView(last_bar_ms=last_bar_ms, interval_ms=k.interval_ms, stale=stale)
            },
            fee_rate=from_float(k.fee),
        )

    def mark(self, bar_open_ms: int, close: float) -> TradingEquityMarked:
        """The account at a bar's close, its close as the mark; keeps the point and the peak."""
        mark = from_float(close)
        cash, held = self.holdings()
        with exact():
            equity = cash + held * mark
        self.peak = max(self.peak, equity)
        close_ms = bar_open_ms + self.key.interval_ms
        self._marks.append(EquityPoint(at_ms=close_ms, equity=equity))
        since = history_from_ms(close_ms, self.risk)
        if len(self._marks) > 2 and self._marks[1].at_ms <= since:
            self._marks = since_last_before(self._marks, since)
        self._submits = [t for t in self._submits if t > since]
        return TradingEquityMarked(
            account=self.key.account,
            symbol=self.key.symbol,
            bar_ms=bar_open_ms,
            mark=mark,
            cash=cash,
            position=held,
            equity=equity,
            peak_equity=self.peak,
        )


def since_last_before(marks: list[EquityPoint], since: int) -> list[EquityPoint]:
    """The marks from the last one at or before `since` on (what the loss guards read)."""
    i = 0
    for k, point in enumerate(marks):
        if point.at_ms <= since:
            i = k
    return marks[i:]
