"""The `Feed` port: closed bars of one instrument, in order, never before they have closed.

`rara.trading.feeds.replay.ReplayFeed` replays the Parquet catalog at any speed;
`rara.trading.feeds.poll.PollingFeed` polls a ccxt exchange for bars as they close. A feed that
has produced no bar for two intervals is *stale*: it says so in `FeedBatch.stale_since_ms`, the
engine logs a ``trading_feed_stale`` event and the risk gate's stale-data guard refuses new
exposure until bars flow again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from rara.domain.market import Candles, Instrument


@dataclass(frozen=True, slots=True)
class ClosedBar:
    """One bar that has closed. ``open_ms`` is its open time (the catalog's ``ts``); it closed at
    ``open_ms + interval``. Prices are floats, as in the backtest: they are market observations;
    the order path turns what it books into exact decimals."""

    open_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class FeedBatch:
    """What one `Feed.next_batch` call returns: the bars that closed since the last call (in
    order, possibly several when replaying fast), whether the feed has ended, and since when it
    has been stale (None: it is not)."""

    bars: tuple[ClosedBar, ...]
    ended: bool = False
    stale_since_ms: int | None = None


class Feed(Protocol):
    """Closed bars of one instrument. `next_batch` blocks until at least one bar has closed, the
    feed ends, it turns stale, or `timeout_s` passes (then an empty batch)."""

    @property
    def instrument(self) -> Instrument: ...

    def history(self, bars: int) -> tuple[ClosedBar, ...]:
        """The last `bars` closed bars before the first one `next_batch` will return (the
        strategy's warm-up window)."""
        ...

    def next_batch(self, max_bars: int, timeout_s: float) -> FeedBatch: ...

    def close(self) -> None: ...


def candles_of(bars: Sequence[ClosedBar]) -> Candles:
    """Closed bars as candle arrays (what the sandbox and the backtest take)."""
    import numpy as np

    n = len(bars)
    return Candles(
        np.fromiter((b.open_ms for b in bars), np.int64, n),
        *(np.fromiter((getattr(b, c) for b in bars), np.float64, n) for c in Candles.COLUMNS[1:]),
    )


def appended(window: Candles, bars: Sequence[ClosedBar], keep: int) -> Candles:
    """`window` with `bars` appended, cut to the last `keep` + len(bars) bars."""
    import numpy as np

    new = candles_of(bars)
    joined = Candles(
        *(np.concatenate([getattr(window, c), getattr(new, c)]) for c in Candles.COLUMNS)
    )
    return joined.slice(max(0, len(joined) - keep - len(bars)), len(joined))
