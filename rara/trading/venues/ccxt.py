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

A venue whose exchange has a server-side cancel-all-after (ccxt ``cancelAllOrdersAfter``) is a
`CcxtCancelAfterVenue`, which adds `cancel_all_after` (the `CancelAfterVenue` port); constructing
`CcxtVenue` picks it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
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
from rara.trading_settings import AccountSettings

log = logging.getLogger(__name__)

T = TypeVar("T")
TRADES_PAGE = 500  # trades asked for per request (binance's default page)


def _described(exchange_id: str, exchange_class: type[Any] | None) -> dict[str, Any]:
    """ccxt's description of an exchange class, read without constructing an exchange."""
    cls = exchange_class or getattr(ccxt, check_exchange_id(exchange_id))
    described: dict[str, Any] = object.__new__(cls).describe()
    return described


def exchange_has(exchange_id: str, feature: str, exchange_class: type[Any] | None = None) -> bool:
    """Whether ccxt says `exchange_id` has `feature` (e.g. cancelAllOrdersAfter). Offline."""
    return bool((_described(exchange_id, exchange_class).get("has") or {}).get(feature))


def has_testnet(exchange_id: str, exchange_class: type[Any] | None = None) -> bool:
    """Whether ccxt knows `exchange_id`'s testnet (sandbox urls). Offline."""
    return bool((_described(exchange_id, exchange_class).get("urls") or {}).get("test"))


def keys_present(exchange_id: str, secrets: Secrets) -> bool:
    """Whether both the API key and the secret of `exchange_id` are set (never their values)."""
    keys = secrets.exchanges.get(exchange_id)
    return bool(
        keys is not None
        and keys.api_key is not None
        and keys.api_key.get_secret_value()
        and keys.secret is not None
        and keys.secret.get_secret_value()
    )


def keys_hint(exchange_id: str) -> str:
    env = exchange_id.upper()
    return (
        f"export RARA_{env}_API_KEY and RARA_{env}_SECRET, or put api_key and secret under "
        f"[exchanges.{exchange_id}] in $RARA_HOME/secrets.toml (mode 0600)"
    )


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
        self._ex.number = str  # amounts and prices as the exchange's decimal strings
        self._ex.options["warnOnFetchOpenOrdersWithoutSymbol"] = False
        self._markets: dict[str, Any] | None = None
        self._cid_of: dict[str, str] = {}  # venue order id -> rara's client id
        self._oid_of: dict[str, str] = {}  # rara's client id -> venue order id
        self._asked: dict[str, OrderRequest] = {}  # what rara sent, by client id
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
        venue_cid = parse.to_venue_client_id(self._exchange, client_order_id)
        oid = self._oid_of.get(client_order_id)
        raw = self._call(lambda: self._ex.cancel_order(oid, symbol, {"clientOrderId": venue_cid}))
        return self._answer(raw, client_order_id, symbol)

    def fetch_order(self, client_order_id: str, symbol: str) -> VenueOrder | None:
        self._loaded_markets()
        venue_cid = parse.to_venue_client_id(self._exchange, client_order_id)
        oid = self._oid_of.get(client_order_id)
        try:
            raw = self._call(
                lambda: self._ex.fetch_order(oid, symbol, {"clientOrderId": venue_cid})
            )
        except VenueRejected as exc:
            if exc.code == "unknown_order":
                return None
            raise
        return self._order(raw, client_order_id)

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
        out: dict[str, dict[str, Any]] = {}
        since = since_ms
        while True:
            page = self._page_of_trades(symbol, since)
            new = [t for t in page if str(t["id"]) not in out and t["timestamp"] >= since_ms]
            for t in new:
                out[str(t["id"])] = t
            if len(page) < TRADES_PAGE or not new:
                return list(out.values())
            since = max(int(t["timestamp"]) for t in page)  # trades at that ms come again

    def _page_of_trades(self, symbol: str | None, since: int) -> list[dict[str, Any]]:
        return self._call(lambda: list(self._ex.fetch_my_trades(symbol, since, TRADES_PAGE)))

    def _client_id_of_trade(self, t: dict[str, Any]) -> str:
        """rara's client id for a trade (trades rarely carry one): from the orders seen, else
        by looking the order up once; an order without a client id is ``ext:<order id>``."""
        oid = str(t.get("order") or "")
        if not oid:
            return f"ext:{t['id']}"
        if oid not in self._cid_of and oid not in self._looked_up:
            self._looked_up.add(oid)
            with contextlib.suppress(VenueRejected):  # unknown to its lookup: external
                self._order(self._call(lambda: self._ex.fetch_order(oid, t["symbol"])))
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
        return parse.venue_order(
            o,
            cid,
            order_type=asked.order_type if asked is not None else None,
            by_cost=asked is not None and asked.cost is not None,
            now_ms=int(self._ex.milliseconds()),
        )

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

    def cancel_all_after(self, timeout_ms: int) -> None:
        # bybit asks which product's orders the countdown covers; rara trades spot there
        self._loaded_markets()
        params = {"type": "spot"} if self._exchange == "bybit" else {}
        self._call(lambda: self._ex.cancel_all_orders_after(timeout_ms, params))
