"""What rara knows about an exchange before asking it anything: what ccxt says it has
(`exchange_has`, `has_testnet`), whether its keys are configured (`keys_present`), and what
`rara.trading.venues.ccxt.CcxtVenue` must say differently to each exchange through ccxt:
one small table (`DIALECTS`), so the venue has no per-exchange branches of its own.

ccxt unifies most calls, but not all of what an order's life needs. Bybit v5 (spot, a unified
account) is the case that needs the most: ccxt's ``fetch_order`` there refuses without
``acknowledged`` (it sees only the last 500 orders) and sends an id of None as it is, so an
order is looked up by its client id in the open orders, then in the closed and canceled ones
(``orderLinkId``: ccxt does not translate ``clientOrderId`` on cancel or lookups); a
conditional order is cancelled only with ``trigger``; its cancel-all-after must be told the
product (spot); its trade history comes in pages of at most 100; and ccxt's default market type
there is not spot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import ccxt

from rara.credentials import Secrets
from rara.data.ccxt_source import check_exchange_id


@dataclass(frozen=True)
class Dialect:
    """How one exchange takes what the venue asks.

    - ``client_id_param``: the parameter naming rara's client id on cancel and lookups;
    - ``lookup``: how an order is found by client id, ``fetch_order`` (one call, by client id)
      or ``lists`` (its open orders, then its closed and canceled ones, filtered by client id);
    - ``order_id_param``: the parameter naming the exchange's order id in a ``lists`` lookup;
    - ``fetch_order_params``: added to a ``fetch_order`` by the exchange's order id;
    - ``trigger_params``: added to cancel a conditional (stop, take-profit) order;
    - ``cancel_after_params``: added to ``cancel_all_orders_after``;
    - ``options``: ccxt options set when the exchange object is built;
    - ``trades_page``: trades asked for per request (at most what the exchange serves);
    - ``switch_needs_stream``: the exchange's cancel-all-after counts from the loss of a
      streaming connection, not from the last REST call that armed it (Bybit's DCP counts from
      the private websocket that subscribed ``dcp``); rara re-arms over REST, so ``auto`` runs
      the watchdog as well there;
    - ``trades_cursor``: (the field of a trade's ``info`` holding the next page's cursor, the
      parameter sending it back), where trades are paged by cursor rather than by time. No
      start time is sent there: Bybit's pages hold the newest trades first, and a start time
      would bound the range to the 7 days after it (older than its last 7 days is out of reach).
    """

    client_id_param: str = "clientOrderId"
    lookup: Literal["fetch_order", "lists"] = "fetch_order"
    order_id_param: str = "orderId"
    fetch_order_params: Mapping[str, Any] = field(default_factory=dict)
    trigger_params: Mapping[str, Any] = field(default_factory=dict)
    cancel_after_params: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    trades_page: int = 500  # binance's default page
    switch_needs_stream: bool = False
    trades_cursor: tuple[str, str] | None = None


DEFAULT_DIALECT = Dialect()
DIALECTS: dict[str, Dialect] = {
    "bybit": Dialect(
        client_id_param="orderLinkId",
        lookup="lists",
        fetch_order_params={"acknowledged": True},
        trigger_params={"trigger": True},
        cancel_after_params={"type": "spot"},
        options={"defaultType": "spot"},
        trades_page=100,
        switch_needs_stream=True,
        trades_cursor=("nextPageCursor", "cursor"),
    ),
}


def dialect_of(exchange: str) -> Dialect:
    return DIALECTS.get(exchange, DEFAULT_DIALECT)


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
