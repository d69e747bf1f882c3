"""`PaperVenue`: the `Venue` port for one simulated account, filling orders by the backtest's rules.

It behaves like a remote exchange that outlives our process: balances, orders, fills and the last
bar it has processed live in the state DB (`Home.state_db`, tables ``paper_*``), and every
mutation (a submit, a cancel, one bar) is one SQLite transaction. A new `PaperVenue` on the same
database and account sees exactly what the old one had, whichever process it runs in (the kill
switch cancels orders from another process). Submitting a client order id the venue already has
returns that order and creates nothing.

Time moves with bars. `on_bar(bar)` processes every open order on that bar, once (a bar at or
before the last one processed is a no-op, so a restart may hand it the same bar again):

1. market orders (and triggered stops still partly open), in the order they came, at the bar's
   OPEN with slippage and the fee (`fill_model.FillModel`); a market buy sized by ``cost`` buys
   ``cost / (price * (1 + fee))`` as the backtest commits cash;
2. limit orders (an option), when the bar trades through the limit;
3. trigger orders: every stop first, then every take-profit (stop-loss wins when both are inside
   one bar); a stop fires at the open on a gap, else at its trigger (`fill_model.trigger_raw`).
   An account's ``reduce_only`` trigger orders of one symbol are one-cancels-the-other: when one
   fills, the others are canceled; a reduce-only order left with no position to reduce is too.

`on_feed_end(last_bar)` fills the market orders still pending at the last bar's CLOSE (rule 5:
the backtest sells an open position at the last close with slippage and the fee).

Money: fill prices, sizes and fees are computed in floats exactly as the backtest does, then
converted with ``Decimal(repr(x))``; balances move by exact decimal arithmetic on those values
(quote out of a buy = quantity x price + fee, exactly), which is what the ledger books too.
Funds are reserved while an order is open (``Balance.used``): the cost of a buy sized by cost or a
limit buy, the base of a plain sell. A buy sized by cost may overshoot its reserved cost by the
float rounding of ``size x price x (1 + fee)`` (a few units in the 16th digit), as the backtest's
cash does; that dust is taken from the free quote even when it is zero, and a buy sized by cost
may exceed the free quote by `COST_DUST` (relative) for the same reason.

Parts: `fill_model` (prices and sizes, pure floats), `paper_book` (the tables, an order's record,
exact arithmetic), `paper_bar` (one bar's fills), this module (the port and its transactions).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from rara.closing import Closing
from rara.domain.money import ZERO
from rara.domain.orders import (
    TERMINAL_STATES,
    Balance,
    OrderRequest,
    VenueFill,
    VenueOrder,
    base_and_quote,
)
from rara.errors import BadInput
from rara.state import open_tables, state_db_error
from rara.trading.feed import ClosedBar
from rara.trading.venue import VenueRejected
from rara.trading.venues.fill_model import FillModel, exact
from rara.trading.venues.paper_bar import BarRun
from rara.trading.venues.paper_book import (
    ONE,
    SCHEMA,
    PaperOrder,
    Wallet,
    add,
    close_order,
    load_order,
    load_orders,
    load_wallet,
    mul,
    save,
    text,
)
from rara.trading_settings import PaperSettings

# How far (relative) a buy sized by cost may exceed the free quote: float rounding, not money.
COST_DUST = Decimal("1e-12")


class PaperVenue(Closing):
    """One simulated account at `exchange` (the market it replays), trading `symbols`, filling by
    the backtest's rules with the caller's `fee` and `slippage` (the engine passes its
    `BacktestConfig`'s) and the options of `settings`. `initial_balances` fund the account when
    it is first created (e.g. ``{"USDT": Decimal(10000)}``); afterwards the persisted balances
    win. A context manager that closes its connection."""

    def __init__(
        self,
        db: Path,
        account: str,
        *,
        exchange: str,
        symbols: Sequence[str],
        fee: float,
        slippage: float,
        initial_balances: Mapping[str, Decimal] | None = None,
        settings: PaperSettings | None = None,
    ) -> None:
        if not account or not symbols:
            raise BadInput("paper_venue_config", "a paper venue needs an account and a symbol")
        self.account = account
        self.symbols = tuple(symbols)
        self.settings = settings or PaperSettings()
        self.model = FillModel(
            fee=fee,
            slippage=slippage,
            half_spread=self.settings.half_spread,
            volume_cap=self.settings.volume_cap,
        )
        self._exchange = exchange
        self._fee = exact(fee)
        self._lock = threading.RLock()
        self.path, self._conn = open_tables(db, SCHEMA, "the paper venue's tables")
        with self._write() as conn:
            row = conn.execute(
                "SELECT exchange FROM paper_accounts WHERE account = ?", (account,)
            ).fetchone()
            if row is None:
                conn.execute("INSERT INTO paper_accounts VALUES (?, ?, 0)", (account, exchange))
                conn.executemany(
                    "INSERT INTO paper_balances VALUES (?, ?, ?, '0')",
                    [(account, c, text(a)) for c, a in sorted((initial_balances or {}).items())],
                )
            elif row[0] != exchange:
                raise BadInput(
                    "paper_account_exchange",
                    f"paper account {account!r} trades on {row[0]}, not {exchange}",
                    "use another account name for another exchange",
                )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @property
    def exchange(self) -> str:
        return self._exchange

    # ---- the Venue port -------------------------------------------------------------------------

    def submit(self, request: OrderRequest) -> VenueOrder:
        """Accept an order (state ``acknowledged``), or return the one this client id already
        names. VenueRejected: ``bad_symbol``, ``unsupported_order_type`` (a limit order with
        limit orders off), ``insufficient_funds``."""
        with self._write() as conn:
            found = load_order(conn, self.account, request.client_order_id)
            if found is not None:
                return found.view()
            self._check_symbol(request.symbol)
            if request.order_type == "limit" and not self.settings.limit_orders:
                raise VenueRejected(
                    "unsupported_order_type",
                    "limit orders are off on this paper venue ([trading.paper] limit_orders)",
                )
            wallet = load_wallet(conn, self.account)
            reserve, currency = self._reservation(conn, request, wallet)
            (seq,) = conn.execute(
                "UPDATE paper_accounts SET orders = orders + 1 WHERE account = ? RETURNING orders",
                (self.account,),
            ).fetchone()
            order = PaperOrder(
                client_order_id=request.client_order_id,
                seq=int(seq),
                venue_order_id=f"paper-{int(seq)}",
                symbol=request.symbol,
                side=request.side,
                order_type=request.order_type,
                quantity=request.quantity,
                cost=request.cost,
                limit_price=request.limit_price,
                trigger_price=request.trigger_price,
                reduce_only=request.reduce_only,
                state="acknowledged",
                filled_quantity=ZERO,
                filled_notional=ZERO,
                remaining=request.cost if request.cost is not None else request.quantity,  # type: ignore[arg-type]
                reserved=reserve,
                triggered=False,
                fills=0,
                updated_ms=self._clock(conn, request.symbol)[0] or 0,
                detail="",
            )
            if reserve:
                wallet.move(currency, free=reserve.copy_negate(), used=reserve)
            save(conn, self.account, [order], wallet)
            return order.view()

    def cancel(self, client_order_id: str, symbol: str) -> VenueOrder:
        """Cancel an open order, releasing what it reserved; a closed order is returned as it is.
        VenueRejected ``unknown_order`` if this venue has no such order for `symbol`."""
        with self._write() as conn:
            order = load_order(conn, self.account, client_order_id)
            if order is None or order.symbol != symbol:
                raise VenueRejected(
                    "unknown_order", f"no order {client_order_id!r} for {symbol} on this account"
                )
            if order.state in TERMINAL_STATES:
                return order.view()
            wallet = load_wallet(conn, self.account)
            close_order(order, wallet, "canceled", "canceled on request")
            save(conn, self.account, [order], wallet)
            return order.view()

    def fetch_order(self, client_order_id: str, symbol: str) -> VenueOrder | None:
        with self._reading() as conn:
            order = load_order(conn, self.account, client_order_id)
        return None if order is None or order.symbol != symbol else order.view()

    def open_orders(self, symbol: str | None = None) -> Sequence[VenueOrder]:
        with self._reading() as conn:
            return [o.view() for o in load_orders(conn, self.account, symbol, open_only=True)]

    def orders(self, symbol: str | None = None) -> Sequence[VenueOrder]:
        """Every order this account has (open or not), oldest first."""
        with self._reading() as conn:
            return [o.view() for o in load_orders(conn, self.account, symbol, open_only=False)]

    def my_trades(self, since_ms: int, symbol: str | None = None) -> Sequence[VenueFill]:
        sql = "SELECT fill FROM paper_fills WHERE account = ? AND filled_ms >= ?"
        args: list[object] = [self.account, since_ms]
        if symbol is not None:
            sql += " AND symbol = ?"
            args.append(symbol)
        with self._reading() as conn:
            rows = conn.execute(sql + " ORDER BY seq", args).fetchall()
        return [VenueFill.model_validate_json(r[0]) for r in rows]

    def balances(self) -> Mapping[str, Balance]:
        with self._reading() as conn:
            wallet = load_wallet(conn, self.account)
        return {
            c: Balance(currency=c, free=free, used=used)
            for c, (free, used) in sorted(wallet.amounts.items())
        }

    # ---- time -----------------------------------------------------------------------------------

    def last_bar_ms(self, symbol: str | None = None) -> int | None:
        """Open time of the last bar processed for `symbol` (None: none yet)."""
        symbol = self._symbol_of(symbol)
        with self._reading() as conn:
            return self._clock(conn, symbol)[0]

    def on_bar(self, bar: ClosedBar, symbol: str | None = None) -> list[VenueFill]:
        """Process every open order of `symbol` (the venue's only one if omitted) on `bar`, in
        one transaction; a bar at or before the last one processed does nothing. Returns the
        fills made (the engine reads them through `my_trades`, as it would from an exchange)."""
        symbol = self._symbol_of(symbol)
        with self._write() as conn:
            last, _ = self._clock(conn, symbol)
            if last is not None and bar.open_ms <= last:
                return []
            run = BarRun(conn, self.account, self.model, symbol, bar)
            run.markets(bar.open, "open")
            if self.settings.limit_orders:
                run.limits()
            run.triggers()
            conn.execute(
                "INSERT OR REPLACE INTO paper_clocks VALUES (?, ?, ?, ?)",
                (self.account, symbol, bar.open_ms, repr(bar.close)),
            )
            return run.finish()

    def on_feed_end(self, last_bar: ClosedBar, symbol: str | None = None) -> list[VenueFill]:
        """The feed has ended after `last_bar`: fill the market orders still pending at its
        CLOSE (rule 5), with slippage and the fee. Trigger and limit orders stay open."""
        symbol = self._symbol_of(symbol)
        with self._write() as conn:
            run = BarRun(conn, self.account, self.model, symbol, last_bar)
            run.markets(last_bar.close, "close")
            return run.finish()

    # ---- internals ------------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; anything raised inside rolls it back."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise state_db_error(self.path, "cannot write the paper venue", exc) from exc
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._conn.execute("ROLLBACK")
                raise state_db_error(self.path, "cannot write the paper venue", exc) from exc

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise state_db_error(self.path, "cannot read the paper venue", exc) from exc

    def _symbol_of(self, symbol: str | None) -> str:
        if symbol is None:
            if len(self.symbols) != 1:
                raise BadInput("paper_symbol", "this paper venue trades several symbols: name one")
            return self.symbols[0]
        self._check_symbol(symbol)
        return symbol

    def _check_symbol(self, symbol: str) -> None:
        if symbol not in self.symbols:
            raise VenueRejected(
                "bad_symbol", f"{symbol} is not traded here (symbols: {', '.join(self.symbols)})"
            )

    def _clock(self, conn: sqlite3.Connection, symbol: str) -> tuple[int | None, float | None]:
        row = conn.execute(
            "SELECT last_bar_ms, last_close FROM paper_clocks WHERE account = ? AND symbol = ?",
            (self.account, symbol),
        ).fetchone()
        return (None, None) if row is None else (int(row[0]), float(row[1]))

    def _reservation(
        self, conn: sqlite3.Connection, request: OrderRequest, wallet: Wallet
    ) -> tuple[Decimal, str]:
        """What the order holds while open, and in which currency; VenueRejected
        ``insufficient_funds`` if the account cannot pay for it (a buy costing more than the
        free quote, a sell of more base than held)."""
        base, quote = base_and_quote(request.symbol)
        if request.side == "buy":
            free = wallet.free(quote)
            if request.cost is not None:
                # A cost derived from float cash (the backtest's arithmetic) may exceed the exact
                # free quote by float dust; the backtest's own cash carries the same dust.
                reserve = request.cost
                within = request.cost <= mul(free, ONE + COST_DUST)
                need = min(request.cost, free) if within else request.cost
            elif request.limit_price is not None and request.quantity is not None:
                need = mul(mul(request.quantity, request.limit_price), add(ONE, self._fee))
                reserve = need
            else:
                # A market or trigger buy by quantity: its price is unknown until it fills, so
                # it is judged at the last close and paid (or refused) at its fill.
                _, close = self._clock(conn, request.symbol)
                reserve = ZERO
                need = ZERO
                if close is not None and request.quantity is not None:
                    price = exact(self.model.taker_price("buy", close))
                    need = mul(mul(request.quantity, price), add(ONE, self._fee))
            if need > free:
                raise VenueRejected(
                    "insufficient_funds",
                    f"the buy costs {need} {quote}, {free} {quote} is free",
                )
            return reserve, quote
        assert request.quantity is not None  # only a buy may be sized by cost
        # Reduce-only and trigger sells hold nothing: a stop and a take-profit of one position
        # both name all of it (one cancels the other), and each sells what is there when it fires.
        holds = not (
            request.reduce_only or request.order_type in ("stop_market", "take_profit_market")
        )
        held = wallet.free(base) if holds else wallet.total(base)
        if request.quantity > held:
            raise VenueRejected(
                "insufficient_funds",
                f"the sell is for {request.quantity} {base}, {held} {base} is held",
            )
        return (request.quantity if holds else ZERO), base
