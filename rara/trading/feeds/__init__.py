"""The feeds behind the `rara.trading.feed.Feed` port: closed bars of one instrument, in order.

- `ReplayFeed` (`replay`): the Parquet catalog's bars at any speed (``None``: as fast as read);
- `PollingFeed` (`poll`): a ccxt exchange polled for bars as they close, never the forming one,
  retried with backoff on failures, reporting when it has gone stale.
- `StreamingFeed` (`stream`): the exchange's WebSocket (ccxt.pro ``watch_ohlcv``) for bars as
  they close, REST polling behind it (gaps, a dead socket, a late bar).

`open_live_feed` picks the live one: streaming where ccxt.pro watches the exchange's candles
(and ``trading.feed.stream`` is on), polling elsewhere.

Typical use::

    feed = ReplayFeed(Catalog(home.data_dir), inst, start_ms, end_ms, speed=None)
    feed = open_live_feed(inst, settings.data, settings.trading.feed)
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
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rara.trading.feed import ClosedBar, Feed, FeedBatch

if TYPE_CHECKING:  # pragma: no cover
    from rara.config import DataSettings
    from rara.domain.market import Instrument
    from rara.trading.feeds.poll import PollingFeed
    from rara.trading.feeds.replay import ReplayFeed
    from rara.trading.feeds.stream import StreamingFeed
    from rara.trading_settings import FeedSettings

__all__ = [
    "ClosedBar",
    "Feed",
    "FeedBatch",
    "PollingFeed",
    "ReplayFeed",
    "StreamingFeed",
    "open_live_feed",
]

_LAZY = {
    "PollingFeed": "rara.trading.feeds.poll",
    "ReplayFeed": "rara.trading.feeds.replay",
    "StreamingFeed": "rara.trading.feeds.stream",
}


def open_live_feed(
    inst: Instrument,
    data_settings: DataSettings,
    feed_settings: FeedSettings,
    after_ms: int | None = None,
    clock: Callable[[], int] | None = None,
) -> Feed:
    """The live feed of ``inst``: a `StreamingFeed` where ccxt.pro watches the exchange's
    candles (``has['watchOHLCV']``, and a WebSocket URL override wherever the REST URLs are
    overridden) unless ``feed_settings.stream`` is off, else a `PollingFeed`. Offline: nothing
    is requested until the feed is read. ``clock``: UTC ms (default: the system clock)."""
    from rara.trading.feeds.poll import PollingFeed, wall_clock_ms
    from rara.trading.feeds.stream import StreamingFeed, streams_ohlcv

    tick = clock or wall_clock_ms
    if feed_settings.stream and streams_ohlcv(inst.exchange, data_settings, feed_settings):
        return StreamingFeed(inst, data_settings, feed_settings, after_ms=after_ms, clock=tick)
    return PollingFeed(inst, data_settings, feed_settings, after_ms=after_ms, clock=tick)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
