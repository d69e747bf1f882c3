"""The ccxt adapter behind the `CandleSource` port: any exchange id in ``ccxt.exchanges``.

ccxt is only touched here. Its errors are translated at this edge: the ones that retrying can fix
(429/418, 5xx, timeouts, dropped connections) become `TransientSourceError` carrying the server's
Retry-After; the rest become a `RaraError`. ccxt's own retry loop is left off (its default) so
that one policy, in `rara.data.fetch`, decides.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import ccxt

from rara.config import DataSettings
from rara.credentials import Secrets
from rara.data.source import Row, TransientSourceError
from rara.domain.market import Timeframe
from rara.errors import BadInput, RaraError, nearest

log = logging.getLogger(__name__)

T = TypeVar("T")

# ccxt maps these statuses to ExchangeNotAvailable (a NetworkError), but asking again will not
# make a missing endpoint or a malformed request work.
PERMANENT_STATUSES = frozenset({400, 401, 404, 405, 407, 410, 422, 451})


def check_exchange_id(exchange_id: str) -> str:
    ex = exchange_id.strip().lower()
    if ex not in ccxt.exchanges:
        guess = nearest(ex, ccxt.exchanges)
        raise BadInput(
            "unknown_exchange",
            f"unknown exchange id {exchange_id!r}",
            (f"did you mean {guess!r}? " if guess else "")
            + "any ccxt exchange id works, e.g. binance, coinbase, kraken, okx",
        )
    return ex


def _instrumented(cls: type[Any]) -> type[Any]:
    """A subclass of the ccxt exchange class that counts HTTP requests and keeps the status
    and headers of the last response, which ccxt's exceptions do not carry."""

    class Instrumented(cls):  # type: ignore[misc]
        rara_requests = 0
        rara_status: int | None = None
        rara_headers: Any = None

        def fetch(
            self, url: str, method: str = "GET", headers: Any = None, body: Any = None
        ) -> Any:
            self.rara_requests += 1
            self.rara_status, self.rara_headers = None, None
            return super().fetch(url, method, headers, body)

        def on_rest_response(
            self,
            code: int,
            reason: str,
            url: str,
            method: str,
            response_headers: Any,
            response_body: str,
            request_headers: Any,
            request_body: Any,
        ) -> Any:
            self.rara_status, self.rara_headers = int(code), response_headers
            return super().on_rest_response(
                code,
                reason,
                url,
                method,
                response_headers,
                response_body,
                request_headers,
                request_body,
            )

    Instrumented.__name__ = f"Instrumented{cls.__name__}"
    return Instrumented


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: either a number or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


class CcxtSource:
    """Candles from one ccxt exchange, configured from `DataSettings`.

    ``exchange_class`` swaps the ccxt class (tests, or a patched venue); by default it is
    ``getattr(ccxt, exchange_id)``. Construction is offline: nothing is requested until
    `validate_symbol` or `fetch_page`.
    """

    def __init__(
        self,
        exchange_id: str,
        settings: DataSettings,
        secrets: Secrets | None = None,
        exchange_class: type[Any] | None = None,
    ) -> None:
        self.exchange_id = check_exchange_id(exchange_id)
        self.name = f"ccxt:{self.exchange_id}"
        cls = exchange_class or getattr(ccxt, self.exchange_id)
        config: dict[str, Any] = {
            "enableRateLimit": True,
            "timeout": settings.request_timeout_ms,
        }
        if settings.rate_limit_ms is not None:
            config["rateLimit"] = settings.rate_limit_ms
        self._secret_values: list[str] = []
        keys = secrets.exchanges.get(self.exchange_id) if secrets is not None else None
        if keys is not None:  # public candles need no keys; pass them only when configured
            for field, attr in (("api_key", "apiKey"), ("secret", "secret")):
                value = getattr(keys, field)
                if value is not None and value.get_secret_value():
                    config[attr] = value.get_secret_value()
                    self._secret_values.append(value.get_secret_value())
        self._ex = _instrumented(cls)(config)
        self._apply_url_overrides(settings.url_overrides.get(self.exchange_id, {}))
        # Candles need only the market list. The currencies call is private or heavy on many
        # venues, and binance adds margin-pair calls when keys are present.
        self._ex.has["fetchCurrencies"] = False
        if "fetchMargins" in self._ex.options:
            self._ex.options["fetchMargins"] = False

    def close(self) -> None:
        """Close the exchange's HTTP session (its pooled keep-alive connections)."""
        session = getattr(self._ex, "session", None)
        if session is not None:
            session.close()

    # ---- configuration -------------------------------------------------------------------
    def _apply_url_overrides(self, overrides: dict[str, str]) -> None:
        if not overrides:
            return
        api = self._ex.urls.get("api")
        if isinstance(api, dict):
            unknown = sorted(set(overrides) - set(api))
            if unknown:
                raise BadInput(
                    "bad_url_override",
                    f"data.url_overrides.{self.exchange_id} sets {unknown[0]!r}, which is not "
                    f"one of {self.exchange_id}'s ccxt urls['api'] keys",
                    f"valid keys: {', '.join(sorted(api))}",
                )
            api.update(overrides)
        else:  # a single base URL: whatever the key, it replaces it
            self._ex.urls["api"] = next(iter(overrides.values()))
        log.debug("%s: API URLs overridden for %s", self.exchange_id, sorted(overrides))

    def _markets_for(self, symbol: str) -> None:
        """Load only the market family the symbol belongs to (binance would otherwise also
        ask its futures hosts), where the exchange offers that option."""
        opt = self._ex.options.get("fetchMarkets")
        types = opt.get("types") if isinstance(opt, dict) else opt
        if not isinstance(types, list) or "spot" not in types:
            return
        wanted = ["spot"] if ":" not in symbol else [t for t in types if t != "spot"]
        if not wanted:
            return
        if isinstance(opt, dict):
            opt["types"] = wanted
        else:
            self._ex.options["fetchMarkets"] = wanted

    # ---- the port ------------------------------------------------------------------------
    @property
    def requests_made(self) -> int:
        return int(self._ex.rara_requests)

    def check_timeframe(self, timeframe: Timeframe) -> None:
        """Offline: does the exchange serve candles at this bar length?"""
        if not self._ex.has.get("fetchOHLCV"):
            raise BadInput(
                "ohlcv_not_supported",
                f"{self.exchange_id} does not offer candles (fetchOHLCV) through ccxt",
                "pick another exchange; `python -c 'import ccxt; print(ccxt.exchanges)'` lists "
                "them",
            )
        tfs = self._ex.timeframes or {}
        if tfs and str(timeframe) not in tfs:
            raise BadInput(
                "unsupported_timeframe",
                f"{self.exchange_id} has no {timeframe} candles",
                f"it offers: {', '.join(tfs)}; fetch a finer one and resample",
            )

    def validate_symbol(self, symbol: str) -> None:
        self._markets_for(symbol)
        markets = self._call(lambda: self._ex.load_markets())
        if symbol not in markets:
            guess = nearest(symbol, list(markets))
            raise BadInput(
                "unknown_symbol",
                f"{self.exchange_id} does not list {symbol}",
                (f"did you mean {guess}? " if guess else "")
                + f"{len(markets)} markets are listed there",
            )

    def fetch_page(self, symbol: str, timeframe: Timeframe, since_ms: int, limit: int) -> list[Row]:
        raw = self._call(
            lambda: self._ex.fetch_ohlcv(symbol, str(timeframe), since=since_ms, limit=limit)
        )
        nan = float("nan")
        return [[float(r[0])] + [float(x) if x is not None else nan for x in r[1:6]] for r in raw]

    # ---- error translation ---------------------------------------------------------------
    def _redact(self, text: str) -> str:
        for s in self._secret_values:
            text = text.replace(s, "***")
        return text

    def _call(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except ccxt.BaseError as exc:
            status = self._ex.rara_status
            msg = self._redact(str(exc))[:500]
            transient = (
                (isinstance(exc, ccxt.NetworkError) and status not in PERMANENT_STATUSES)
                or status in (418, 429)
                or (status is not None and status >= 500)
            )
            if transient:
                headers = self._ex.rara_headers or {}
                raise TransientSourceError(
                    f"{type(exc).__name__}: {msg}",
                    parse_retry_after(headers.get("Retry-After") if headers else None),
                ) from None
            raise RaraError(
                "source_error",
                f"{self.exchange_id} answered {status or 'an error'}: {type(exc).__name__}: {msg}",
                "check the symbol and timeframe; if the exchange changed its API, upgrade ccxt",
            ) from None
