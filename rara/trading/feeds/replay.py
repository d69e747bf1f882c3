"""`ReplayFeed`: the bars of one instrument from the Parquet catalog, in order, at any speed.

The candles are loaded once (DuckDB through `rara.data.catalog.Catalog`) and kept as numpy
arrays; a batch is a slice. At ``speed=None`` (``--speed max``) a batch is up to ``max_bars`` bars
at once with no waiting, which is how parity tests and backtest comparisons run. At a numeric
speed time runs ``speed`` times faster than the timeframe: a 1h bar every ``3600 / speed``
seconds, the first one interval after the replay starts (it closes one interval after it
opens). Pacing reads a monotonic clock; both the clock and the sleep are injectable so a test
walks simulated time instead of waiting.

``after_ms`` resumes a replay after a restart: bars opening at or before it were processed
already and are not replayed (they are the warm-up `history` instead).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from rara.data.catalog import Catalog
from rara.domain.market import Candles, Instrument
from rara.errors import BadInput
from rara.trading.feed import ClosedBar, FeedBatch


def bars_of(candles: Candles, start: int, stop: int) -> tuple[ClosedBar, ...]:
    """Rows ``start:stop`` of candle arrays as `ClosedBar`s (plain ints and floats)."""
    cols = [getattr(candles, c)[start:stop].tolist() for c in Candles.COLUMNS]
    return tuple(ClosedBar(*row) for row in zip(*cols, strict=True))


class ReplayFeed:
    """Bars with ``start_ms <= open < end_ms`` (UTC ms, either end open), after ``after_ms`` if
    given, oldest first. ``speed``: None replays as fast as it is read; a number paces the bars
    (see the module). ``clock`` returns monotonic seconds and ``sleep`` waits; both default to
    the real ones."""

    def __init__(
        self,
        catalog: Catalog,
        instrument: Instrument,
        start_ms: int | None = None,
        end_ms: int | None = None,
        *,
        speed: float | None = None,
        after_ms: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if speed is not None and not speed > 0:
            raise BadInput(
                "bad_speed",
                f"replay speed {speed} is not a positive number",
                "give a speed above 0 (e.g. 3600 replays a 1h bar per second), or max",
            )
        self._instrument = instrument
        # Everything before the end: the bars before the start are the warm-up `history`.
        self._candles = catalog.load(instrument, None, end_ms)
        ts = self._candles.ts
        first = int(np.searchsorted(ts, start_ms, side="left")) if start_ms is not None else 0
        self._start = first  # the run's first bar, whatever a resume skips
        if after_ms is not None:
            first = max(first, int(np.searchsorted(ts, after_ms, side="right")))
        self._first = first  # the first bar this feed replays
        self._next = first  # the next bar `next_batch` returns
        self._speed = speed
        self._period_s = instrument.timeframe.ms / 1000.0 / speed if speed is not None else 0.0
        self._clock = clock
        self._sleep = sleep
        self._t0: float | None = None  # clock() when the paced replay started

    # ---- the port ------------------------------------------------------------------------
    @property
    def instrument(self) -> Instrument:
        return self._instrument

    def history(self, bars: int) -> tuple[ClosedBar, ...]:
        """The ``bars`` bars before the next one `next_batch` returns (fewer where the catalog
        starts later)."""
        return bars_of(self._candles, max(0, self._next - max(0, bars)), self._next)

    def next_batch(self, max_bars: int, timeout_s: float) -> FeedBatch:
        """Up to ``max_bars`` bars. Paced, it returns the bars due by now (several only when the
        reader fell behind), waiting up to ``timeout_s`` for the next one (then an empty batch).
        The batch holding the last bar says ``ended``, and so does every batch after it."""
        stop = len(self._candles)
        if self._next >= stop:
            return FeedBatch(bars=(), ended=True)
        take = max(1, max_bars)
        if self._speed is not None:
            take = self._due(take, timeout_s)
            if take == 0:
                return FeedBatch(bars=())
        lo, hi = self._next, min(stop, self._next + take)
        self._next = hi
        return FeedBatch(bars=bars_of(self._candles, lo, hi), ended=hi >= stop)

    def close(self) -> None:
        """Nothing is held open: the candles were read once at construction."""

    # ---- the run's bars, for the backtest over the same bars -----------------------------
    def run_candles(self) -> Candles:
        """Every bar of the run's range (from its start, not from a resume's ``after_ms``)."""
        return self._candles.slice(self._start, len(self._candles))

    def warmup_candles(self, bars: int) -> Candles:
        """The ``bars`` bars before the run's start (what its first evaluation saw)."""
        return self._candles.slice(max(0, self._start - max(0, bars)), self._start)

    # ---- progress ------------------------------------------------------------------------
    @property
    def total(self) -> int:
        """Bars this feed replays in all (from its start or ``after_ms`` to its end)."""
        return len(self._candles) - self._first

    @property
    def emitted(self) -> int:
        """Bars returned by `next_batch` so far."""
        return self._next - self._first

    # ---- pacing --------------------------------------------------------------------------
    def _due_at(self, k: int) -> float:
        """When the ``k``-th replayed bar (0-based) is due: it closes one interval after it
        opened, and the first opened when the replay started."""
        assert self._t0 is not None
        return self._t0 + (k + 1) * self._period_s

    def _due(self, most: int, timeout_s: float) -> int:
        """How many bars are due now (at most ``most``), sleeping until the next one is when
        none is yet (up to ``timeout_s``; 0 if it does not come by then)."""
        now = self._clock()
        if self._t0 is None:
            self._t0 = now
        deadline = now + max(0.0, timeout_s)
        k = self.emitted
        while True:
            n = 0
            while n < most and self._next + n < len(self._candles) and self._due_at(k + n) <= now:
                n += 1
            if n:
                return n
            due = self._due_at(k)
            if due > deadline:
                if deadline > now:
                    self._sleep(deadline - now)
                return 0
            self._sleep(due - now)
            now = self._clock()
