"""The `Venue` port: where orders go. `PaperVenue` (`rara.trading.venues.paper`) simulates the
backtest's fills; the ccxt adapter trades on an exchange. The engine and the order manager see
only this interface.

Errors a venue raises are of two kinds, and the difference is money: `VenueRejected` means the
venue answered and refused (nothing is open); `VenueUnavailable` means no answer came (a
timeout, a dropped connection, a 5xx), so the order's outcome is *unknown* and must be resolved
by `fetch_order(client_order_id)`, never by sending it again under a new id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from rara.domain.orders import Balance, OrderRequest, VenueFill, VenueOrder
from rara.trading.feed import ClosedBar
from rara.trading.market_rules import MarketRules


class VenueError(Exception):
    """Base of the venue's errors; ``code`` is stable (e.g. insufficient_funds)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class VenueRejected(VenueError):
    """The venue answered and refused the request; nothing was opened."""


class VenueUnavailable(VenueError):
    """No answer: what the venue did with the request is unknown until looked up."""


@runtime_checkable
class Venue(Protocol):
    """One account at one venue. Every method is idempotent by client order id where it takes
    one: submitting an id the venue already has returns that order, never a second one."""

    @property
    def exchange(self) -> str:
        """The ccxt exchange id (for paper, the market it simulates)."""
        ...

    def submit(self, request: OrderRequest) -> VenueOrder: ...

    def cancel(self, client_order_id: str, symbol: str) -> VenueOrder: ...

    def fetch_order(self, client_order_id: str, symbol: str) -> VenueOrder | None:
        """The order, or None if the venue has never seen this client id."""
        ...

    def open_orders(self, symbol: str | None = None) -> Sequence[VenueOrder]: ...

    def my_trades(self, since_ms: int, symbol: str | None = None) -> Sequence[VenueFill]:
        """Our fills at or after `since_ms`, oldest first."""
        ...

    def balances(self) -> Mapping[str, Balance]: ...


@runtime_checkable
class SimulatedVenue(Venue, Protocol):
    """A venue whose market moves with the bars it is shown (the paper venue): the engine hands
    it every closed bar before reading fills, and the last one when the feed ends."""

    def on_bar(self, bar: ClosedBar, symbol: str | None = None) -> Sequence[VenueFill]: ...

    def on_feed_end(
        self, last_bar: ClosedBar, symbol: str | None = None
    ) -> Sequence[VenueFill]: ...


@runtime_checkable
class RuledVenue(Venue, Protocol):
    """A venue with market rules (precision and minimums, read once from its market list): the
    engine conforms every intent to them before the risk gate sees it."""

    def market_rules(self, symbol: str) -> MarketRules: ...


@runtime_checkable
class CancelAfterVenue(Venue, Protocol):
    """A venue with a server-side dead man's switch: every open order of the account is
    canceled `timeout_ms` after the last call unless called again (0 disarms)."""

    def cancel_all_after(self, timeout_ms: int) -> None: ...
