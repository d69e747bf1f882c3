"""`PollingFeed`: closed bars of one instrument from a ccxt exchange, polled.

Exchanges serve the forming bar with the closed ones, its values changing until it closes; a
feed that passed it on would hand the strategy a bar that never existed. So a bar is emitted only
once the clock says it has closed and settled: ``open + interval + close_delay_s <= now``
(the delay covers a venue clock a little behind ours and trades booked late).

Each bar is emitted once, in order. The feed keeps the open time of the last bar it has and asks
the venue for everything after it, page by page, so after a pause (a slow reader, a failed poll,
a halted venue coming back) it emits every bar it missed; only bars the venue does not have at
all are skipped. Polls that fail with something retrying can fix (timeout, 5xx, 429: the
`TransientSourceError` of `rara.data.ccxt_source`) are retried with backoff (the server's
Retry-After wins), forever: a live feed waits for the venue, it never crashes on it. A feed with
no new bar for ``stale_after_intervals`` intervals reports ``stale_since_ms`` in its batches
until bars flow again.

The exchange is built by `rara.data.ccxt_source.CcxtSource` from ``[data]`` (timeouts,
``url_overrides``: how tests point it at the exchange emulator); public candles need no keys.
The clock (UTC ms) is injectable so a test walks the venue's time and the feed's together.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections import deque
from collections.abc import Callable

from rara.config import DataSettings
from rara.data.ccxt_source import CcxtSource
from rara.data.fetch import backoff_delay, grid_floor
from rara.data.source import CandleSource, Row, TransientSourceError
from rara.domain.market import Instrument
from rara.errors import RaraError
from rara.trading.feed import ClosedBar, FeedBatch
from rara.trading_settings import FeedSettings

log = logging.getLogger(__name__)


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


class PollingFeed:
    """Closed bars of ``instrument`` from its exchange (``instrument.exchange``, a ccxt id).

    ``after_ms``: resume after a restart, emitting the bars that open after it (the ones the
    feed missed while down included); without it the feed starts at the last bar closed when
    it is first read (`history` or `next_batch`). ``clock`` returns UTC ms (default: the
    system clock). ``source`` replaces the ccxt source built from ``data`` (another venue
    adapter implementing `rara.data.source.CandleSource`).

    What retrying cannot fix is raised, not retried: a symbol the venue does not list
    (``BadInput`` ``unknown_symbol``, on the first read) or a request it refuses
    (``RaraError`` ``source_error``: a 400 or 404, a changed API).
    """

    def __init__(
        self,
        instrument: Instrument,
        data: DataSettings,
        feed: FeedSettings | None = None,
        *,
        after_ms: int | None = None,
        clock: Callable[[], int] = wall_clock_ms,
        source: CandleSource | None = None,
    ) -> None:
        self._instrument = instrument
        self._data = data
        self._feed = feed if feed is not None else FeedSettings()
        self._source = source if source is not None else CcxtSource(instrument.exchange, data)
        self._clock = clock
        self._tf = instrument.timeframe
        self._delay_ms = round(self._feed.close_delay_s * 1000)
        self._stale_ms = round(self._feed.stale_after_intervals * self._tf.ms)
        self._last_ms: int | None = after_ms  # open time of the newest bar the feed has
        self._pending: deque[ClosedBar] = deque()  # fetched, not yet returned
        self._poll_at = 0.0  # monotonic time of the next poll
        self._failures = 0  # polls failed in a row
        self._stale_told = False  # this stale spell was already returned as its own batch
        self._rng = random.Random()
        self._listed = False  # the venue was asked whether it lists the symbol
        self._asked_ms: int | None = None  # the clock when the venue was last asked for bars

    # ---- the port ------------------------------------------------------------------------
    @property
    def instrument(self) -> Instrument:
        return self._instrument

    @property
    def last_bar_ms(self) -> int | None:
        """Open time of the newest bar the feed has (returned or about to be)."""
        return self._last_ms

    def history(self, bars: int) -> tuple[ClosedBar, ...]:
        """The ``bars`` closed bars up to the one before the first that `next_batch` returns
        (fewer if the venue has fewer). Fetched with a bounded number of retries
        (``data.max_retries``): without its warm-up window a strategy cannot start."""
        pinned = self._last_ms is not None
        end = self._last_ms if self._last_ms is not None else self._last_final_open()
        if bars <= 0:
            self._last_ms = end
            return ()
        since = end - (bars - 1) * self._tf.ms
        out: list[ClosedBar] = []
        while since <= end:
            rows = self._fetch_retrying(since)
            got = [b for b in self._final(rows) if since <= b.open_ms <= end]
            out.extend(got)
            if len(rows) < self._data.page_limit or not got:
                break
            since = got[-1].open_ms + self._tf.ms
        if not pinned:
            # Start after what the venue actually had: a bar it had not yet published when
            # the clock said it had closed is then emitted by next_batch, not lost.
            self._last_ms = out[-1].open_ms if out else end
        return tuple(out[-bars:])

    def next_batch(self, max_bars: int, timeout_s: float) -> FeedBatch:
        """Up to ``max_bars`` bars that closed since the last call. Waits up to ``timeout_s``
        for one, returning early (with no bars) when the feed turns stale."""
        if self._last_ms is None:
            self._last_ms = self._last_final_open()
        deadline = time.monotonic() + max(0.0, timeout_s)
        take = max(1, max_bars)
        while True:
            self._gather(take)
            stale = self._stale_since()
            if stale is None:
                self._stale_told = False
            if self._pending:
                bars = tuple(self._pending.popleft() for _ in range(min(take, len(self._pending))))
                return FeedBatch(bars=bars, stale_since_ms=stale)
            if stale is not None and not self._stale_told:
                self._stale_told = True
                log.warning("%s: no new bar since %s", self._instrument.key, self._last_ms)
                return FeedBatch(bars=(), stale_since_ms=stale)
            now = time.monotonic()
            if now >= deadline:
                return FeedBatch(bars=(), stale_since_ms=stale)
            self._wait(deadline)

    def close(self) -> None:
        """Drop what was fetched and not returned, and close the venue's HTTP session."""
        self._pending.clear()
        close = getattr(self._source, "close", None)  # a CandleSource need not hold one
        if close is not None:
            close()

    # ---- polling -------------------------------------------------------------------------
    def _gather(self, take: int) -> None:
        """Fill the batch up to ``take`` bars: page after page while catching up (a full page
        asks again now), never before the next poll is due."""
        while len(self._pending) < take and time.monotonic() >= self._poll_at:
            had = len(self._pending)
            self._poll()
            if len(self._pending) == had:
                break

    def _wait(self, deadline: float) -> None:
        """Nothing to return yet: sleep until the next poll or the reader's deadline."""
        time.sleep(max(0.0, min(self._poll_at, deadline) - time.monotonic()))

    def _last_final_open(self) -> int:
        """Open time of the last bar that has closed and settled by the clock."""
        return grid_floor(self._clock() - self._delay_ms, self._tf) - self._tf.ms

    def _stale_since(self) -> int | None:
        """When the feed turned stale (the close of its newest bar plus the staleness window),
        or None while that is ahead or the venue has not been asked since: a reader back from
        a pause first hears what the venue has, not that the feed is stale."""
        assert self._last_ms is not None
        since = self._last_ms + self._tf.ms + self._stale_ms
        return since if self._asked_ms is not None and self._asked_ms >= since else None

    def _poll(self) -> None:
        """Ask the venue for the bars after the newest one the feed has, once; on a failure,
        schedule the retry instead."""
        assert self._last_ms is not None
        interval = self._feed.poll_interval_s
        if self._last_ms + 2 * self._tf.ms + self._delay_ms > self._clock():
            self._poll_at = time.monotonic() + interval  # no bar can have closed: ask nothing
            return
        asked = self._clock()
        try:
            rows = self._fetch(self._last_ms + self._tf.ms)
        except TransientSourceError as exc:
            wait = backoff_delay(self._failures, interval, self._feed.retry_max_s, self._rng)
            if exc.retry_after_s is not None:  # the server knows better than our guess
                wait = max(wait, exc.retry_after_s)
            self._failures += 1
            self._poll_at = time.monotonic() + wait
            self._asked_ms = asked
            log.warning(
                "%s: poll failed (%s); retry %d in %.2fs",
                self._instrument.key,
                exc,
                self._failures,
                wait,
            )
            return
        self._failures = 0
        got = [b for b in self._final(rows) if b.open_ms > self._last_ms]
        for b in got:
            if b.open_ms > self._last_ms:  # in order, once each, even if the venue repeats
                self._pending.append(b)
                self._last_ms = b.open_ms
        # A full page of closed bars: there may be more behind it (catching up), ask again now.
        full = len(rows) >= self._data.page_limit and len(got) > 0
        self._poll_at = time.monotonic() + (0.0 if full else interval)
        if not full:  # the venue said all it has: staleness is judged on this answer
            self._asked_ms = asked

    def _fetch(self, since: int) -> list[Row]:
        """One page of bars opening at or after ``since``. The first call also makes the
        source check the symbol (and, for ccxt, load only its market family's list)."""
        if not self._listed:
            self._source.validate_symbol(self._instrument.symbol)
            self._listed = True
        return self._source.fetch_page(
            self._instrument.symbol, self._tf, since, self._data.page_limit
        )

    def _fetch_retrying(self, since: int) -> list[Row]:
        attempt = 0
        while True:
            try:
                return self._fetch(since)
            except TransientSourceError as exc:
                if attempt >= self._data.max_retries:
                    raise RaraError(
                        "feed_unavailable",
                        f"{self._instrument.key}: the venue did not answer for the warm-up "
                        f"window: {exc} (after {attempt} retries)",
                        "check the exchange's status and the network, then start again",
                    ) from None
                wait = backoff_delay(
                    attempt, self._data.backoff_base_s, self._data.backoff_max_s, self._rng
                )
                if exc.retry_after_s is not None:
                    wait = max(wait, exc.retry_after_s)
                attempt += 1
                time.sleep(wait)

    def _final(self, rows: list[Row]) -> list[ClosedBar]:
        """The rows that are closed and settled by the clock and complete, as bars, in order."""
        cutoff = self._clock() - self._delay_ms - self._tf.ms  # the latest final open time
        out = []
        for r in sorted(rows, key=lambda r: r[0]):
            if r[0] > cutoff or not all(math.isfinite(x) for x in r[1:6]):
                continue
            out.append(ClosedBar(int(r[0]), r[1], r[2], r[3], r[4], r[5]))
        return out
