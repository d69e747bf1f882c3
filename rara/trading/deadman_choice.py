"""Which dead man's switch an account gets (`choose_deadman`, from ``deadman`` in its settings
and what its exchange offers), the pairing of the exchange's switch with the watchdog where the
exchange's may not count from rara's re-arms (`PairedDeadman`), and what journaled firings
canceled (`canceled_by_firings`, read at start-up). The switches themselves are
`rara.trading.deadman`'s."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rara.domain.events import DeadmanMethod, TradingDeadmanFired
from rara.errors import BadInput, Refused
from rara.events import EventFilter, EventStore
from rara.home import Home
from rara.trading.deadman import ExchangeDeadman, WatchdogDeadman
from rara.trading.orders import OrderManager
from rara.trading.venue import CancelAfterVenue, Venue
from rara.trading.watchdog import VenueSpec
from rara.trading_settings import AccountSettings


class PairedDeadman:
    """The exchange's switch with rara's watchdog beside it, belt and braces, for an exchange
    whose switch may not count from rara's REST re-arms (Bybit's DCP counts from a lost private
    websocket). Both are armed and refreshed together; the watchdog's timeout is twice the
    exchange's, so it acts only where the exchange did not. Each journals its own events."""

    method: DeadmanMethod = "exchange"

    def __init__(self, exchange: ExchangeDeadman, watchdog: WatchdogDeadman) -> None:
        self.exchange, self.watchdog = exchange, watchdog

    @property
    def label(self) -> str:
        return "exchange+watchdog"

    @property
    def on_fired(self) -> Callable[[Sequence[str]], None] | None:
        return self.exchange.on_fired

    @on_fired.setter
    def on_fired(self, tell: Callable[[Sequence[str]], None] | None) -> None:
        self.exchange.on_fired = self.watchdog.on_fired = tell

    def arm(self, now_ms: int) -> None:
        self.exchange.arm(now_ms)
        self.watchdog.arm(now_ms)

    def refresh(self, now_ms: int) -> bool:
        rearmed = self.exchange.refresh(now_ms)
        return self.watchdog.refresh(now_ms) or rearmed

    def disarm(self) -> None:
        try:
            self.exchange.disarm()
        finally:
            self.watchdog.disarm()


def choose_deadman(
    settings: AccountSettings,
    venue: Venue,
    *,
    store: EventStore,
    home: Home,
    account: str,
    symbols: Sequence[str],
    managers: Sequence[OrderManager] = (),
    venue_spec: VenueSpec | None = None,
) -> ExchangeDeadman | WatchdogDeadman | PairedDeadman | None:
    """The switch `settings.deadman` asks for: ``exchange`` (the venue must have a server-side
    cancel-all-after), ``watchdog`` (needs `venue_spec`: how the watchdog opens the venue),
    ``auto`` (exchange where the venue has it, else watchdog; both where the venue says its
    switch may not count from REST re-arms, ``cancel_after_needs_watchdog``), ``off`` (None;
    refused for a live account)."""
    choice = settings.deadman
    if choice == "off":
        if settings.mode == "live":
            raise Refused(
                "deadman_off_live",
                f"account {account} trades live with its dead man's switch off",
                "set deadman = 'auto' for the account (off is for testnet only)",
            )
        return None
    timeout_ms = int(settings.deadman_timeout_s * 1000)
    refresh_ms = int(settings.deadman_refresh_s * 1000)
    has_switch = isinstance(venue, CancelAfterVenue)
    if choice == "exchange" or (choice == "auto" and has_switch):
        if not isinstance(venue, CancelAfterVenue):
            raise Refused(
                "deadman_unsupported",
                f"{venue.exchange} has no server-side cancel-all-after for account {account}",
                "set deadman = 'watchdog' (or 'auto') for the account",
            )
        on_exchange = ExchangeDeadman(
            store,
            venue,
            account=account,
            timeout_ms=timeout_ms,
            refresh_ms=refresh_ms,
            managers=managers,
        )
        if choice == "exchange" or not getattr(venue, "cancel_after_needs_watchdog", False):
            return on_exchange
        if venue_spec is None:
            return on_exchange  # nothing to open the venue with: the exchange's switch alone
        beside = WatchdogDeadman(
            store,
            home,
            account=account,
            exchange=venue.exchange,
            venue_spec=venue_spec,
            symbols=symbols,
            timeout_ms=2 * timeout_ms,
            refresh_ms=refresh_ms,
            managers=managers,
        )
        return PairedDeadman(on_exchange, beside)
    if venue_spec is None:
        raise BadInput(
            "deadman_no_venue_spec",
            f"the watchdog of account {account} needs to know how to open its venue",
            "pass venue_spec=VenueSpec(factory='rara.<module>:<function>', args=...)",
        )
    return WatchdogDeadman(
        store,
        home,
        account=account,
        exchange=venue.exchange,
        venue_spec=venue_spec,
        symbols=symbols,
        timeout_ms=timeout_ms,
        refresh_ms=refresh_ms,
        managers=managers,
    )


def canceled_by_firings(store: EventStore, account: str) -> set[str]:
    """Every client id a journaled firing of `account`'s switch canceled (an engine that starts
    again places those of its position's protective orders again, once)."""
    out: set[str] = set()
    for ev in store.iter_query(EventFilter(types=[TradingDeadmanFired])):
        fired = ev.typed()
        if isinstance(fired, TradingDeadmanFired) and fired.account == account:
            out.update(fired.canceled)
    return out
