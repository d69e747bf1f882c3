"""The feeds behind the `rara.trading.feed.Feed` port: closed bars of one instrument, in order.

- `ReplayFeed` (`replay`): the Parquet catalog's bars at any speed (``None``: as fast as read);
- `PollingFeed` (`poll`): a ccxt exchange polled for bars as they close, never the forming one,
  retried with backoff on failures, reporting when it has gone stale.

Typical use::

    feed = ReplayFeed(Catalog(home.data_dir), inst, start_ms, end_ms, speed=None)
    feed = PollingFeed(inst, settings.data, settings.trading.feed)
    warmup = feed.history(lookback)
    while not (batch := feed.next_batch(max_bars=500, timeout_s=1.0)).ended:
        for bar in batch.bars:
            ...
        if batch.stale_since_ms is not None:
            ...  # a trading_feed_stale event; the risk gate refuses new exposure

The names resolve on first use: a replay does not pay for importing ccxt, a poll for DuckDB.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rara.trading.feed import ClosedBar, Feed, FeedBatch

if TYPE_CHECKING:  # pragma: no cover
    from rara.trading.feeds.poll import PollingFeed
    from rara.trading.feeds.replay import ReplayFeed

__all__ = ["ClosedBar", "Feed", "FeedBatch", "PollingFeed", "ReplayFeed"]

_LAZY = {"PollingFeed": "rara.trading.feeds.poll", "ReplayFeed": "rara.trading.feeds.replay"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
