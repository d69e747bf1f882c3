"""`CcxtVenue`: one account at one exchange, traded through ccxt (any exchange id), behind the
`Venue` port the paper venue also implements.

- Modes: ``testnet`` (ccxt's sandbox urls; the default) and ``live``. The exchange object is built
  the way `rara.data.ccxt_source` builds one (timeouts, url overrides for emulators, keys from
  `rara.credentials`), switched to the testnet before the url overrides apply. Whether live may be
  opened at all is decided before, in `rara.trading.accounts`.
- Every order carries rara's client order id, always passed explicitly (ccxt would otherwise
  invent a random one, and a resend could not be recognised), in the exchange's own format
  (`ccxt_parse.to_venue_client_id`); answers are mapped back to rara's id.
- Markets are loaded once, on first use; `market_rules` reads their precision and limits.
- Errors: an answer that refuses is `VenueRejected` with a stable code; no answer (a timeout, a
  dropped connection, a 5xx) is `VenueUnavailable`: the outcome is unknown and the order must be
  looked up by its client id. A 429/418 was not processed, so it is waited out (Retry-After,
  bounded) and resent with the same client id, a bounded number of times. Bad keys are a
  `Refused`. No message ever holds the key or the secret.
- Amounts are sent as the decimal strings of rara's Decimals and read back as the exchange's
  strings (ccxt's ``number`` is ``str`` here): no float on the way in or out.
- What an exchange needs said differently (Bybit: lookups by client id through its order
  lists, ``orderLinkId``, ``trigger`` to cancel a conditional order) is its `Dialect`, one row
  of `ccxt_dialect.DIALECTS`.

A venue whose exchange has a server-side cancel-all-after (ccxt ``cancelAllOrdersAfter``) is a
`CcxtCancelAfterVenue`, which adds `cancel_all_after` (the `CancelAfterVenue` port); constructing
`CcxtVenue` picks it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, Literal, TypeVar

import ccxt

from rara.config import DataSettings
from rara.credentials import Secrets
from rara.data.ccxt_source import (
    build_exchange,
    check_exchange_id,
    load_only_market_family,
    parse_retry_after,
    redact,
)
from rara.domain.orders import Balance, OrderRequest, VenueFill, VenueOrder
from rara.errors import BadInput, Refused, nearest
from rara.trading.market_rules import MarketRules
from rara.trading.venue import VenueRejected, VenueUnavailable
from rara.trading.venues import ccxt_parse as parse
from rara.trading.venues.ccxt_dialect import (
    dialect_of,
    exchange_has,
    has_testnet,
    keys_hint,
    keys_present,
)
from rara.trading_settings import AccountSettings

log = logging.getLogger(__name__)

T = TypeVar("T")
__all__ = [
    "CcxtCancelAfterVenue",
    "CcxtVenue",
    "exchange_has",
    "has_testnet",
    "keys_hint",
    "keys_present",
]
CONDITIONAL = ("stop_market", "take_profit_market")


class CcxtVenue:
    """One account at one ccxt exchange (see the module docstring). Construction is offline."""

    def __new__(
        cls,
        account: str,
        settings: AccountSettings,
        *,
        data: DataSettings,
        secrets: Secrets,
        exchange_class: type[Any] | None = None,
    ) -> CcxtVenue:
        if cls is CcxtVenue and exchange_has(
            settings.exchange, "cancelAllOrdersAfter", exchange_class
        ):
            cls = CcxtCancelAfterVenue
        return object.__new__(cls)

    def __init__(
        self,
        account: str,
        settings: AccountSettings,
        *,
        data: DataSettings,
        secrets: Secrets,
        exchange_class: type[Any] | None = None,
    ) -> None:
        self.account = account
        self.settings = settings
        self._exchange = check_exchange_id(settings.exchange)
        if not keys_present(self._exchange, secrets):
            raise Refused(
                "exchange_keys_missing",
                f"account {account!r} ({self._exchange}, {settings.mode}) has no API key and "
                "secret",
                keys_hint(self._exchange)
                + (" (the testnet's own keys)" if settings.mode == "testnet" else ""),
            )
        self._ex, self._secret_values = build_exchange(
            self._exchange, data, secrets, exchange_class, sandbox=settings.mode == "testnet"
        )
        self._dialect = dialect_of(self._exchange)
        self._ex.options.update(self._dialect.options)
        self._ex.number = str  # amounts and prices as the exchange's decimal strings
        self._ex.options["warnOnFetchOpenOrdersWithoutSymbol"] = False
        self._markets: dict[str, Any] | None = None
        self._cid_of: dict[str, str] = {}  # venue order id -> rara's client id
        self._oid_of: dict[str, str] = {}  # rara's client id -> venue order id
        self._asked: dict[str, OrderRequest] = {}  # what rara sent, by client id
        self._kind_of: dict[str, str] = {}  # rara's client id -> the order's type, once seen
        self._looked_up: set[str] = set()  # venue order ids already fetched for a trade
        self._held: set[str] = set()  # client ids the venue refused as duplicates: it has them

    # ---- identity -------------------------------------------------------------------------
    @property
    def exchange(self) -> str:
        return self._exchange

    @property
    def mode(self) -> Literal["testnet", "live"]:
        return self.settings.mode

    def exchange_time_ms(self) -> int:
        """The exchange's server time (UTC ms): what closes a live feed's bars."""
        return self._call(lambda: int(self._ex.fetch_time()))

    @property
    def supports_cancel_after(self) -> bool:
        return False

    @property
    def requests_made(self) -> int:
        """HTTP requests sent so far (markets included)."""
        return int(self._ex.rara_requests)

    def close(self) -> None:
        """Close the exchange's HTTP session."""
        session = getattr(self._ex, "session", None)
        if session is not None:
            session.close()

    # ---- markets --------------------------------------------------------------------------
    def _loaded_markets(self) -> dict[str, Any]:
        if self._markets is None:
            symbols = self.settings.symbols or ("BTC/USDT",)  # spot, unless told otherwise
            load_only_market_family(self._ex, symbols[0])
            self._markets = self._call(lambda: dict(self._ex.load_markets()))
        return self._markets

    def market_rules(self, symbol: str) -> MarketRules:
        markets = self._loaded_markets()
        market = markets.get(symbol)
        if market is None:
            guess = nearest(symbol, list(markets))
            raise BadInput(
                "unknown_symbol",
                f"{self._exchange} does not list {symbol}",
                (f"did you mean {guess}? " if guess else "")
                + f"{len(markets)} markets are listed there",
            )
        cost_orders = bool(self._ex.has.get("createMarketBuyOrderWithCost"))
        return parse.market_rules(market, int(self._ex.precisionMode), cost_orders=cost_orders)

    # ---- orders ---------------------------------------------------------------------------
    def submit(self, request: OrderRequest) -> VenueOrder:
        self._loaded_markets()
        cid = request.client_order_id
        venue_cid = parse.to_venue_client_id(self._exchange, cid)
        self._asked[cid] = request
        self._kind_of[cid] = request.order_type
        if cid in self._held:  # never sent again: it may have closed meanwhile, unseen
            return self._held_order(cid, request.symbol)
        try:
            raw = self._call(lambda: self._create(request, venue_cid))
        except VenueRejected as exc:
            # Sending an id the venue already has open: the port promises that order back.
            if exc.code == "duplicate_client_id":
                self._held.add(cid)
                return self._held_order(cid, request.symbol)
            raise
        return self._answer(raw, cid, request.symbol)

    def _held_order(self, cid: str, symbol: str) -> VenueOrder:
        """An order the venue said it has (a duplicate refusal), looked up; while its reads do
        not show it yet (a lagging replica) it is no refusal (something IS open) but an
        outcome to look up again."""
        existing = self.fetch_order(cid, symbol)
        if existing is None:
            raise VenueUnavailable(
                "duplicate_not_shown",
                f"{self._exchange} has an order {cid} but does not show it yet",
            )
        return existing

    def _create(self, r: OrderRequest, venue_cid: str) -> Any:
        params: dict[str, Any] = {"clientOrderId": venue_cid}  # a fresh dict for every try
        amount = str(r.quantity) if r.quantity is not None else None
        if r.cost is not None:
            if not self._ex.has.get("createMarketBuyOrderWithCost"):
                raise VenueRejected(
                    "cost_orders_unsupported",
                    f"{self._exchange} takes no market buy sized by cost; conform it to a "
                    "quantity first",
                )
            return self._ex.create_market_buy_order_with_cost(r.symbol, str(r.cost), params)
        if r.order_type == "limit":
            return self._ex.create_order(
                r.symbol, "limit", r.side, amount, str(r.limit_price), params
            )
        if r.order_type == "stop_market":
            params["stopLossPrice"] = str(r.trigger_price)
        elif r.order_type == "take_profit_market":
            params["takeProfitPrice"] = str(r.trigger_price)
        return self._ex.create_order(r.symbol, "market", r.side, amount, None, params)

    def _answer(self, raw: Any, cid: str, symbol: str) -> VenueOrder:
        """The venue's answer to a send or a cancel; an answer holding only ids (some
        exchanges) is completed by a lookup, or is an acknowledgement if that fails."""
        if isinstance(raw, dict) and raw.get("status") and raw.get("side") and raw.get("symbol"):
            return self._order(raw, cid)
        if isinstance(raw, dict) and raw.get("id") is not None:
            self._remember(str(raw["id"]), cid)
        try:
            found = self.fetch_order(cid, symbol)
        except VenueUnavailable:
            found = None
        if found is not None:
            return found
        asked = self._asked[cid]
        return VenueOrder(
            client_order_id=cid,
            venue_order_id=self._oid_of.get(cid),
            symbol=symbol,
            side=asked.side,
            order_type=asked.order_type,
            state="acknowledged",
            quantity=asked.quantity,
            filled_quantity=0,
            average_price=None,
            limit_price=asked.limit_price,
            trigger_price=asked.trigger_price,
            updated_ms=int(self._ex.milliseconds()),
            detail="acknowledged without a state",
        )

    def cancel(self, client_order_id: str, symbol: str) -> VenueOrder:
        self._loaded_markets()
        cid = client_order_id
        if self._dialect.trigger_params and cid not in self._kind_of:
            self.fetch_order(cid, symbol)  # whether it is a conditional order decides the call
        params = self._id_params(cid)
        if self._kind_of.get(cid) in CONDITIONAL:
            params.update(self._dialect.trigger_params)
        oid = self._oid_of.get(cid)
        raw = self._call(lambda: self._ex.cancel_order(oid, symbol, dict(params)))
        return self._answer(raw, cid, symbol)

    def _id_params(self, client_order_id: str) -> dict[str, Any]:
        """The parameter naming the order's client id (none for an order placed without one,
        which is found by the venue's id)."""
        if client_order_id.startswith("ext:") and client_order_id in self._oid_of:
            return {}
        venue_cid = parse.to_venue_client_id(self._exchange, client_order_id)
        return {self._dialect.client_id_param: venue_cid}

    def fetch_order(self, client_order_id: str, symbol: str) -> VenueOrder | None:
        self._loaded_markets()
        cid = client_order_id
        if self._dialect.lookup == "lists":
            return self._listed_order(cid, symbol)
        oid = self._oid_of.get(cid)
        try:
            raw = self._call(lambda: self._ex.fetch_order(oid, symbol, self._id_params(cid)))
        except VenueRejected as exc:
            if exc.code == "unknown_order":
                return None
            raise
        return self._order(raw, cid)

    def _listed_order(self, cid: str, symbol: str) -> VenueOrder | None:
        """The order found in the open, then the closed and canceled orders, by client id (or
        by the venue's id for an order without one)."""
        params = self._id_params(cid)
        oid = self._oid_of.get(cid)
        if not params and oid is not None:  # placed without a client id
            params = {self._dialect.order_id_param: oid}
        fetches: tuple[Callable[..., Any], ...] = (
            self._ex.fetch_open_orders,
            self._ex.fetch_canceled_and_closed_orders,
        )
        for fetch in fetches:
            asked: Callable[[], list[Any]] = partial(fetch, symbol, None, None, dict(params))
            try:
                raw = list(self._call(asked))
            except VenueRejected as exc:
                if exc.code == "unknown_order":
                    continue
                raise
            if raw:
                return self._order(raw[0], cid)
        return None

    def open_orders(self, symbol: str | None = None) -> Sequence[VenueOrder]:
        self._loaded_markets()
        raw = self._call(lambda: self._ex.fetch_open_orders(symbol))
        return [self._order(o) for o in raw]

    def my_trades(self, since_ms: int, symbol: str | None = None) -> Sequence[VenueFill]:
        self._loaded_markets()
        if symbol is not None:
            symbols: list[str | None] = [symbol]
        else:  # binance and others need a symbol: the account's, and any traded here
            known = {*(self.settings.symbols or ()), *(a.symbol for a in self._asked.values())}
            symbols = [*sorted(known)] if known else [None]
        fills: dict[str, VenueFill] = {}
        for sym in symbols:
            for t in self._trades_since(since_ms, sym):
                fill = parse.venue_fill(t, self._client_id_of_trade(t))
                fills[fill.fill_id] = fill
        return sorted(fills.values(), key=lambda f: (f.filled_ms, f.fill_id))

    def _trades_since(self, since_ms: int, symbol: str | None) -> list[dict[str, Any]]:
        """Every trade at or after `since_ms`, page by page: forwards in time from `since_ms`
        (trades at a page's last ms come again), or, where the exchange pages by cursor
        (bybit), backwards from its newest trades over its default range (bybit: its last 7
        days, by its own clock) until a page reaches before `since_ms`."""
        out: dict[str, dict[str, Any]] = {}
        since, cursor = since_ms, None
        paged = self._dialect.trades_cursor
        while True:
            params: dict[str, Any] = {} if cursor is None or paged is None else {paged[1]: cursor}
            page = self._page_of_trades(symbol, None if paged else since, params)
            new = [t for t in page if str(t["id"]) not in out and t["timestamp"] >= since_ms]
            for t in new:
                out[str(t["id"])] = t
            if len(page) < self._dialect.trades_page or not new:
                return list(out.values())
            if paged is None:
                since = max(int(t["timestamp"]) for t in page)
                continue
            cursor = next((c for t in page if (c := (t.get("info") or {}).get(paged[0]))), None)
            if not cursor or min(int(t["timestamp"]) for t in page) < since_ms:
                return list(out.values())

    def _page_of_trades(
        self, symbol: str | None, since: int | None, params: dict[str, Any]
    ) -> list[dict[str, Any]]:
        limit = self._dialect.trades_page
        return self._call(lambda: list(self._ex.fetch_my_trades(symbol, since, limit, params)))

    def _client_id_of_trade(self, t: dict[str, Any]) -> str:
        """rara's client id for a trade (trades rarely carry one): from the orders seen, else
        by looking the order up once; an order without a client id is ``ext:<order id>``."""
        oid = str(t.get("order") or "")
        if not oid:
            return f"ext:{t['id']}"
        if oid not in self._cid_of and oid not in self._looked_up:
            self._looked_up.add(oid)
            params = dict(self._dialect.fetch_order_params)
            with contextlib.suppress(VenueRejected):  # unknown to its lookup: external
                self._order(self._call(lambda: self._ex.fetch_order(oid, t["symbol"], params)))
        return self._cid_of.get(oid) or f"ext:{oid}"

    def balances(self) -> Mapping[str, Balance]:
        self._loaded_markets()  # else ccxt loads every market family (binance: futures hosts)
        raw = self._call(lambda: self._ex.fetch_balance())
        return parse.balances(raw)

    # ---- translation ----------------------------------------------------------------------
    def _remember(self, oid: str, cid: str) -> None:
        self._cid_of[oid] = cid
        self._oid_of[cid] = oid

    def _order(self, o: dict[str, Any], cid: str | None = None) -> VenueOrder:
        oid = str(o["id"]) if o.get("id") is not None else None
        cid = cid or parse.from_venue_client_id(o.get("clientOrderId")) or f"ext:{oid}"
        if oid is not None:
            self._remember(oid, cid)
        asked = self._asked.get(cid)
        order = parse.venue_order(
            o,
            cid,
            order_type=asked.order_type if asked is not None else None,
            by_cost=asked is not None and asked.cost is not None,
            now_ms=int(self._ex.milliseconds()),
        )
        self._kind_of[cid] = order.order_type
        return order

    # ---- errors ---------------------------------------------------------------------------
    def _call(self, fn: Callable[[], T]) -> T:
        """`fn()` with ccxt's errors as the venue's; a rate-limit refusal waited out and
        resent (the same request: the same client id) up to ``rate_limit_retries`` times."""
        tries = 0
        while True:
            try:
                return fn()
            except ccxt.BaseError as exc:
                status = self._ex.rara_status
                message = redact(f"{type(exc).__name__}: {exc}", self._secret_values)[:500]
                if isinstance(exc, ccxt.AuthenticationError):
                    raise Refused(
                        "exchange_auth_failed",
                        f"{self._exchange} refused the keys of account {self.account!r}: {message}",
                        keys_hint(self._exchange)
                        + "; check that they are the "
                        + ("testnet's" if self.mode == "testnet" else "live account's")
                        + " and allowed to trade",
                    ) from None
                if not parse.is_rate_limited(exc, status):
                    raise parse.venue_error(exc, status, message) from None
                if tries >= self.settings.rate_limit_retries:
                    raise VenueUnavailable("rate_limited", message) from None
                tries += 1
                headers = self._ex.rara_headers or {}
                wait = parse_retry_after(headers.get("Retry-After") if headers else None)
                wait = min(1.0 if wait is None else wait, self.settings.rate_limit_wait_max_s)
                log.warning("%s: rate limited (%s); resending in %.1fs", self.account, status, wait)
                time.sleep(wait)


class CcxtCancelAfterVenue(CcxtVenue):
    """A `CcxtVenue` whose exchange cancels every open order of the account a set time after
    the last call (ccxt ``cancel_all_orders_after``): the `CancelAfterVenue` port."""

    @property
    def supports_cancel_after(self) -> bool:
        return True

    @property
    def cancel_after_needs_watchdog(self) -> bool:
        """Whether the exchange's switch may not count from rara's REST re-arms (bybit: it
        counts from a lost websocket), so rara's watchdog should run beside it."""
        return self._dialect.switch_needs_stream

    def cancel_all_after(self, timeout_ms: int) -> None:
        self._loaded_markets()
        params = dict(self._dialect.cancel_after_params)  # bybit: which product (spot)
        self._call(lambda: self._ex.cancel_all_orders_after(timeout_ms, params))
