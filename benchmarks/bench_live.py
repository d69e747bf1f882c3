"""Live orders: one order's round trip through `CcxtVenue` against the Binance emulator on
loopback (real ccxt, real HTTP on 127.0.0.1), beside the same round trip through `PaperVenue`;
and one reconciliation pass with 0 and with 50 open orders.

- round trip: a market buy journaled and sent (`OrderManager.submit`), its fill seen through the
  venue's trades (`OrderManager.sync`: ``my_trades``, open orders) and booked in the ledger; the
  paper venue fills it on the next bar (`on_bar`) between the send and the sync, as the engine
  does;
- reconciliation: `Reconciler.run("periodic")` on the account (open orders, trades since the
  lookback, balances, the journal's open orders, the ledger against the venue), with none of
  our orders open and with 50 resting limit buys of ours; the same pass over a `PaperVenue` is
  the reference for the first.

The emulator serves from this process (its HTTP server threads share the GIL with the client):
the figures are the order path's own cost plus loopback HTTP, not an exchange's latency.

    python -m benchmarks.bench_live [--quick]
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from benchmarks.report import Figure, Spread, env_int, print_figures, quick
from benchmarks.research_runs import fresh_home

SYMBOL = "BTC/USDT"
HOUR_MS = 3_600_000
START_MS = 1_700_002_800_000  # a bar's open; the emulator's clock
KEY = "benchKEY0a1b2c3d4e5f60718293a4b5c6d7e8f9"
SECRET = "benchSECRET9f8e7d6c5b4a30291817161514131211"
OPEN_ORDERS = 50


@dataclass
class Account:
    """One account's order path in a fresh home: journal, ledger, manager, reconciler."""

    venue: Any
    manager: Any
    ledger: Any
    reconciler: Any
    account: str
    on_bar: Callable[[], None]  # a simulated venue's next bar (nothing for an exchange)
    _bar_ms: int = START_MS

    def round_trip(self, k: int) -> float:
        """ms from journaling a market buy to its fill booked."""
        intent = _buy(self.manager, k)
        t = time.perf_counter()
        self.manager.submit(intent)
        self.on_bar()
        fills = self.manager.sync()
        for f in fills:
            self.ledger.book_fill(f)
        ms = (time.perf_counter() - t) * 1000
        if len(fills) != 1:
            raise RuntimeError(f"round trip {k}: {len(fills)} fills seen, not 1")
        return ms

    def reconcile_ms(self) -> float:
        t = time.perf_counter()
        report = self.reconciler.run("periodic")
        ms = (time.perf_counter() - t) * 1000
        if not report.ok:
            raise RuntimeError(f"reconciliation failed: {report}")
        return ms


def _buy(manager: Any, k: int, cost: str = "50", limit: str | None = None) -> Any:
    from rara.domain.orders import OrderIntent, OrderRequest

    seq = manager.next_seq()
    request = OrderRequest(
        client_order_id=manager.client_order_id(seq),
        symbol=SYMBOL,
        side="buy",
        order_type="limit" if limit is not None else "market",
        cost=None if limit is not None else Decimal(cost),
        quantity=Decimal("0.01") if limit is not None else None,
        limit_price=Decimal(limit) if limit is not None else None,
    )
    return OrderIntent(
        seq=seq,
        strategy_id="bench",
        correlation_id="bench_run",
        reason="entry",
        signal_bar_ms=k * HOUR_MS,  # one intent per "bar": the manager keys intents on it
        mark_price=Decimal(30_000),
        request=request,
    )


def _deployment(mode: str, account: str) -> Any:
    from rara.trading.journal import Deployment

    return Deployment(
        run_id="bench_run",
        strategy_id="bench",
        account=account,
        exchange="binance",
        mode=mode,  # type: ignore[arg-type]
        symbol=SYMBOL,
    )


def _parts(stack: ExitStack, venue: Any, mode: str, account: str, clock: Callable[[], int]) -> Any:
    from rara.events import open_event_store
    from rara.home import Home
    from rara.ledger import open_ledger
    from rara.trading.orders import OrderManager
    from rara.trading.reconcile import Reconciler

    db = Home.from_env().state_db
    store = stack.enter_context(open_event_store(db))
    ledger = stack.enter_context(open_ledger(db))
    manager = OrderManager(store, venue, _deployment(mode, account), clock=clock)
    manager.restore()
    reconciler = Reconciler(
        store,
        ledger,
        venue,
        account=account,
        exchange="binance",
        mode=mode,  # type: ignore[arg-type]
        symbols=[SYMBOL],
        managers=[manager],
        lookback_ms=24 * HOUR_MS,
        clock=clock,
    )
    return manager, ledger, reconciler


@contextmanager
def ccxt_account() -> Iterator[tuple[Account, Any]]:
    """A testnet `CcxtVenue` account at a fresh Binance emulator, funded and reconciled once
    (the opening balances booked)."""
    from pydantic import SecretStr

    from rara.config import DataSettings
    from rara.credentials import ExchangeKeys, Secrets
    from rara.trading.venues.ccxt import CcxtVenue
    from rara.trading_settings import AccountSettings
    from tests.emulators.exchange import BinanceEmulator

    with ExitStack() as stack, fresh_home("rara-bench-live-"):
        emu = stack.enter_context(BinanceEmulator(api_keys={KEY: SECRET}, now_ms=START_MS))
        emu.fund(KEY, "USDT", "1000000")
        data = DataSettings(
            url_overrides={"binance": {"public": emu.api_url, "private": emu.api_url}},
            request_timeout_ms=30_000,
            rate_limit_ms=1,
        )
        secrets = Secrets(
            exchanges={"binance": ExchangeKeys(api_key=SecretStr(KEY), secret=SecretStr(SECRET))}
        )
        venue = CcxtVenue(
            "bench",
            AccountSettings(exchange="binance", symbols=(SYMBOL,)),
            data=data,
            secrets=secrets,
        )
        stack.callback(venue.close)

        def tick() -> None:  # a second passes per order, inside the bar: trades in order
            assert emu.now_ms is not None
            emu.now_ms += 1_000

        manager, ledger, reconciler = _parts(stack, venue, "testnet", "testnet:bench", emu.now)
        acct = Account(venue, manager, ledger, reconciler, "testnet:bench", tick)
        acct.reconcile_ms()  # the first pass books the opening balances
        yield acct, emu


@contextmanager
def paper_account() -> Iterator[Account]:
    from rara.trading.feed import ClosedBar
    from rara.trading.venues.paper import PaperVenue

    with ExitStack() as stack, fresh_home("rara-bench-live-paper-"):
        from rara.home import Home

        venue = PaperVenue(
            Home.from_env().state_db,
            "paper:bench",
            exchange="binance",
            symbols=[SYMBOL],
            fee=0.001,
            slippage=0.0,
            initial_balances={"USDT": Decimal(1_000_000)},
        )
        stack.callback(venue.close)
        bar_ms = [START_MS]

        def next_bar() -> None:
            bar_ms[0] += HOUR_MS
            venue.on_bar(ClosedBar(bar_ms[0], 30_000.0, 30_010.0, 29_990.0, 30_000.0, 1e6))

        manager, ledger, reconciler = _parts(
            stack, venue, "paper", "paper:bench", lambda: bar_ms[0]
        )
        acct = Account(venue, manager, ledger, reconciler, "paper:bench", next_bar)
        acct.reconcile_ms()
        yield acct


def sizes() -> dict[str, int]:
    if quick():
        return {"trips": 5, "passes": 3, "warmup": 2}
    return {
        "trips": env_int("RARA_BENCH_LIVE_TRIPS", 100),
        "passes": env_int("RARA_BENCH_LIVE_PASSES", 30),
        "warmup": 5,
    }


def run() -> list[Figure]:
    s = sizes()
    trips, passes, warm = s["trips"], s["passes"], s["warmup"]
    with ccxt_account() as (live, emu), paper_account() as paper:
        for k in range(warm):  # imports, ccxt's markets, sqlite pages, the emulator's threads
            live.round_trip(k)
            paper.round_trip(k)
        live_ms: list[float] = []
        paper_ms: list[float] = []
        for k in range(warm, warm + trips):  # interleaved: both see the same spells of load
            live_ms.append(live.round_trip(k))
            paper_ms.append(paper.round_trip(k))
        requests_before = live.venue.requests_made
        live.round_trip(warm + trips)
        requests = live.venue.requests_made - requests_before
        recon0 = [live.reconcile_ms() for _ in range(passes)]
        recon0_paper = [paper.reconcile_ms() for _ in range(passes)]
        base = warm + trips + 1
        for k in range(OPEN_ORDERS):  # resting limit buys of ours, far below the market
            live.manager.submit(_buy(live.manager, base + k, limit="1000.00"))
        live.on_bar()
        open_now = len(emu.book.open_orders(KEY))
        if open_now != OPEN_ORDERS:
            raise RuntimeError(f"{open_now} open orders at the emulator, not {OPEN_ORDERS}")
        recon50 = [live.reconcile_ms() for _ in range(passes)]
    print(
        f"   {trips} round trips each (after {warm} warm-up), interleaved; "
        f"{requests} HTTP requests per live round trip; {passes} reconciliation passes each"
    )
    trip, trip_paper = Spread.of(live_ms), Spread.of(paper_ms)
    return [
        Figure("order round trip, CcxtVenue over loopback", trip, "ms",
               "same through PaperVenue", trip_paper,
               "submit market -> fill in my_trades -> booked", acceptance="13.6"),
        Figure("reconciliation pass, 0 open orders, CcxtVenue", Spread.of(recon0), "ms",
               "same pass over PaperVenue", Spread.of(recon0_paper),
               "open orders, trades, balances, journal, ledger", acceptance="13.2"),
        Figure(f"reconciliation pass, {OPEN_ORDERS} open orders, CcxtVenue",
               Spread.of(recon50), "ms", "0 open orders, CcxtVenue", Spread.of(recon0),
               "our resting limit buys, journaled", acceptance="13.2"),
    ]  # fmt: skip


if __name__ == "__main__":
    if "--quick" in sys.argv[1:]:
        os.environ["RARA_BENCH_QUICK"] = "1"
    print_figures("live orders (CcxtVenue on the Binance emulator, loopback)", run())
