"""The candle-source port: where candles come from, and the failure a retry may fix.

`rara.data.fetch` consumes this port and `rara.data.ccxt_source` implements it; both import it
from here, so the adapter never imports its consumer.
"""

from __future__ import annotations

from typing import Protocol

from rara.domain.market import Timeframe

Row = list[float]  # [ts_ms, open, high, low, close, volume]


class TransientSourceError(Exception):
    """A failure that asking again may fix (rate limit, 5xx, timeout, dropped connection)."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class CandleSource(Protocol):
    """The port: where candles come from. Implementations raise `TransientSourceError` for
    retryable failures and `RaraError` (usually `BadInput`) for the rest."""

    name: str  # recorded in the catalog's ``sources``, e.g. ``ccxt:binance``

    @property
    def requests_made(self) -> int: ...

    def check_timeframe(self, timeframe: Timeframe) -> None:
        """Offline check that the venue serves this bar length."""

    def validate_symbol(self, symbol: str) -> None:
        """Raise BadInput unless the venue lists ``symbol`` (may ask the venue)."""

    def fetch_page(self, symbol: str, timeframe: Timeframe, since_ms: int, limit: int) -> list[Row]:
        """Up to ``limit`` bars opening at or after ``since_ms``, oldest first."""
        ...
