"""rara's live order path against the Binance spot emulator, in one process: an `OrderManager`
built as `rara.trading.live` builds it (an unknown-outcome wait and a clock), a `CcxtVenue` over
real HTTP, the ledger booking the manager's fills, and a `Reconciler` that funds the account's
opening balances from the venue. One clock drives everything: the emulator's (`now_ms`), which
is also the journal's and the manager's, so a test moves time (bars close, the unknown-outcome
wait elapses) without sleeping.

    with BinanceEmulator(api_keys={KEY: SECRET}, now_ms=START_MS) as emu:
        desk = Desk(emu)                         # funded, reconciled at start-up
        order = desk.submit("market_cost")
        desk.walk(until=START_MS + 2 * HOUR_MS)  # time moves; every step syncs and books
        desk.restart()                           # a new manager (and venue) on the same journal
        assert desk.ledger_balances() == desk.venue_balances()
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from pydantic import SecretStr

from rara.config import DataSettings
from rara.credentials import ExchangeKeys, Secrets
from rara.domain.events import IntentReason, OrderType
from rara.domain.orders import OrderIntent, OrderRequest
from rara.events import EventFilter, open_event_store
from rara.home import Home
from rara.ledger import open_ledger
from rara.trading.journal import ORDER_EVENTS, Deployment, JournalState, ManagedOrder, replay
from rara.trading.orders import OrderManager
from rara.trading.reconcile import Reconciler, ReconcileReport
from rara.trading.venue import VenueUnavailable
from rara.trading.venues.ccxt import CcxtVenue
from rara.trading_settings import AccountSettings
from tests.emulators.candles import INTERVAL_MS
from tests.emulators.exchange import BinanceEmulator
from tests.kit.live import HOUR_MS, KEY, SECRET, START_MS, SYMBOL

__all__ = ["HOUR_MS", "KEY", "SECRET", "START_MS", "SYMBOL", "Desk", "Kind"]

Kind = Literal["market_cost", "market_qty", "stop_market", "take_profit_market"]
KINDS: tuple[Kind, ...] = ("market_cost", "market_qty", "stop_market", "take_profit_market")
REASONS: dict[Kind, IntentReason] = {
    "market_cost": "entry",
    "market_qty": "exit",
    "stop_market": "stop_loss",
    "take_profit_market": "take_profit",
}
ACCOUNT = "testnet:acct"
DEP = Deployment(
    run_id="faults", strategy_id="s1", account=ACCOUNT, exchange="binance", mode="testnet",
    symbol=SYMBOL,
)  # fmt: skip
UNKNOWN_MS = 60_000  # how long an order the venue does not show is waited for
TIMEOUT_MS = 400  # the venue's request timeout: a hung answer costs this much
STEP_MS = 15_000  # the clock's step while an order is followed
OPENING = {"USDT": Decimal("100000"), "BTC": Decimal("2")}
QUANTITY = Decimal("0.05")
COST = Decimal("1000")


def bar_of(emu: BinanceEmulator, open_ms: int) -> tuple[Decimal, Decimal, Decimal]:
    """The final (open, high, low) of the 1h bar opening at `open_ms`."""
    saved, emu.now_ms = emu.now_ms, open_ms + 2 * INTERVAL_MS["1h"]
    try:
        row = emu.closed_bars("BTCUSDT", "1h", open_ms, open_ms + 1)[0]
    finally:
        emu.now_ms = saved
    open_, high, low = (Decimal(repr(float(x))).quantize(Decimal("0.01")) for x in row[1:4])
    return open_, high, low


class Desk:
    """The order path of one deployment on account ``testnet:acct`` (see the module doc)."""

    def __init__(
        self,
        emu: BinanceEmulator,
        *,
        unknown_timeout_ms: int = UNKNOWN_MS,
        stale_entry_ms: int | None = HOUR_MS,
    ) -> None:
        self.emu = emu
        assert emu.now_ms is not None, "the desk walks the emulator's clock"
        for currency, amount in OPENING.items():
            emu.fund(KEY, currency, amount)
        self.unknown_timeout_ms = unknown_timeout_ms
        self.stale_entry_ms = stale_entry_ms
        db = Home.from_env().state_db
        self.store = open_event_store(db, clock=self._when)
        self.ledger = open_ledger(db)
        self.outages = 0
        self.venue = self._venue()
        self.manager = self._manager()
        self.reconciler = Reconciler(
            self.store, self.ledger, self.venue, account=ACCOUNT, exchange="binance",
            mode="testnet", symbols=[SYMBOL], managers=[self.manager],
            lookback_ms=24 * HOUR_MS, clock=self.now,
        )  # fmt: skip
        startup = self.reconcile("startup")
        assert startup.ok and startup.funded == OPENING, startup

    # ---- time ------------------------------------------------------------------------------
    def now(self) -> int:
        return self.emu.now()

    def _when(self) -> datetime:
        return datetime.fromtimestamp(self.now() / 1000, UTC)

    def step(self, ms: int = STEP_MS) -> list[str]:
        """Move the clock by `ms`, then sync the manager and book its fills; the fill ids."""
        assert self.emu.now_ms is not None
        self.emu.now_ms += ms
        return self.sync()

    def walk(self, until: int, step_ms: int = STEP_MS) -> None:
        while self.now() < until:
            self.step(min(step_ms, until - self.now()))

    # ---- the order path --------------------------------------------------------------------
    def _venue(self) -> CcxtVenue:
        data = DataSettings(
            url_overrides={"binance": {"public": self.emu.api_url, "private": self.emu.api_url}},
            request_timeout_ms=TIMEOUT_MS,
            rate_limit_ms=1,
        )
        settings = AccountSettings(exchange="binance", symbols=(SYMBOL,))
        keys = ExchangeKeys(api_key=SecretStr(KEY), secret=SecretStr(SECRET))
        return CcxtVenue("acct", settings, data=data, secrets=Secrets(exchanges={"binance": keys}))

    def _manager(self) -> OrderManager:
        mgr = OrderManager(
            self.store,
            self.venue,
            DEP,
            unknown_timeout_ms=self.unknown_timeout_ms,
            stale_entry_ms=self.stale_entry_ms,
            clock=self.now,
        )
        mgr.restore()
        return mgr

    def restart(self) -> None:
        """A new process: a new venue and a new manager restored from the same journal (it
        resolves what it finds unknown), then a sync whose fills are booked."""
        self.venue.close()
        self.venue = self._venue()
        self.manager = self._manager()
        self.reconciler.venue = self.venue
        self.reconciler.add_manager(self.manager)
        self.sync()

    def sync(self) -> list[str]:
        """The engine's sync: the manager's new fills booked; a venue that does not answer is
        an outage (the engine tries again next time), never a conclusion."""
        try:
            fills = self.manager.sync()
        except VenueUnavailable:
            self.outages += 1
            return []
        for f in fills:
            self.ledger.book_fill(f)
        return [f.fill_id for f in fills]

    def reconcile(self, trigger: Literal["startup", "periodic"] = "periodic") -> ReconcileReport:
        """A pass, tried again (up to three times) while a query fails: a failed pass
        concludes nothing, and a loaded machine may time a request out."""
        for _ in range(2):
            report = self.reconciler.run(trigger)
            if report.error is None:
                return report
        return self.reconciler.run(trigger)

    def intent(self, kind: Kind) -> OrderIntent:
        """The intent the engine sends for `kind`, at the bar forming now: a market buy by cost
        (an entry), a market sell by quantity (an exit), and a stop-loss and a take-profit sell
        whose triggers the bar forming now reaches (it opens at now)."""
        seq = self.manager.next_seq()
        now = self.now()
        bar_ms = now - now % HOUR_MS
        open_, high, low = bar_of(self.emu, bar_ms)
        side: Literal["buy", "sell"] = "buy" if kind == "market_cost" else "sell"
        order_type: OrderType = "market" if kind.startswith("market") else kind  # type: ignore[assignment]
        trigger = None
        if kind == "stop_market":
            trigger = ((open_ + low) / 2).quantize(Decimal("0.01"))
        elif kind == "take_profit_market":
            trigger = ((open_ + high) / 2).quantize(Decimal("0.01"))
        return OrderIntent(
            seq=seq,
            strategy_id=DEP.strategy_id,
            correlation_id=DEP.run_id,
            reason=REASONS[kind],
            signal_bar_ms=bar_ms - HOUR_MS,
            mark_price=open_,
            request=OrderRequest(
                client_order_id=self.manager.client_order_id(seq),
                symbol=SYMBOL,
                side=side,
                order_type=order_type,
                quantity=None if kind == "market_cost" else QUANTITY,
                cost=COST if kind == "market_cost" else None,
                trigger_price=trigger,
            ),
        )

    def submit(self, kind: Kind) -> ManagedOrder:
        return self.manager.submit(self.intent(kind))

    # ---- the truth -------------------------------------------------------------------------
    def journal(self) -> JournalState:
        """The deployment's orders as the journal replays them."""
        where = EventFilter(types=ORDER_EVENTS, correlation_id=DEP.run_id)
        return replay(DEP, self.store.iter_query(where))

    def ledger_balances(self) -> dict[str, Decimal]:
        return self.ledger.balances(ACCOUNT)

    def venue_balances(self) -> dict[str, Decimal]:
        """The emulator's account, free + locked per currency (zeros left out)."""
        held = self.emu.book.balances(KEY)
        return {c: free + locked for c, (free, locked) in sorted(held.items()) if free + locked}

    def orders_at_venue(self) -> dict[str, int]:
        return self.emu.book.count_by_client_id(KEY)

    def close(self) -> None:
        for part in (self.venue, self.ledger, self.store):
            part.close()
