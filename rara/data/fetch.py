"""`rara data fetch`: page candles out of an exchange into the Parquet catalog.

Idempotent and resumable by construction: the catalog records, per period file, which ranges
were asked of the source (``covered``). A fetch asks only for the requested range minus what is
covered, and checkpoints every ``flush_every_pages`` pages with the range it has finished, so a
run killed at any point loses at most the pages since its last checkpoint and a rerun picks up
there. Re-running a finished fetch makes no request at all.

The exchange sits behind `CandleSource` (the ccxt adapter is `rara.data.ccxt_source.CcxtSource`),
so tests and other venues swap one class.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
from pydantic import BaseModel
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rara.config import DataSettings, Settings
from rara.credentials import Secrets
from rara.data.catalog import Catalog
from rara.data.periods import Interval, as_timeframe, merge_intervals, subtract_intervals
from rara.data.quality import check_candles, find_gaps, grid_origin
from rara.data.source import CandleSource, TransientSourceError
from rara.domain.market import Candles, Instrument, Timeframe, ms_to_iso, parse_utc
from rara.errors import BadInput, RaraError

log = logging.getLogger(__name__)

T = TypeVar("T")


# ---- the report ----------------------------------------------------------------------------
class GapReport(BaseModel):
    leading: list[str] | None = None  # [start, end): before the first bar (e.g. pre-listing)
    trailing: list[str] | None = None  # after the last bar up to the range's end
    interior: list[list[str]] = []  # first 100 holes inside the data
    interior_count: int = 0
    missing_bars: int = 0


class FetchReport(BaseModel):
    exchange: str
    symbol: str
    timeframe: str
    start: str
    end: str  # exclusive; clipped to the last closed bar
    requests: int = 0
    bars_fetched: int = 0
    bars_added: int = 0
    periods_written: list[str] = []
    fetched: list[list[str]] = []  # ranges asked of the exchange in this run
    skipped: list[list[str]] = []  # ranges already covered in the catalog
    gaps: GapReport = GapReport()
    retries: int = 0


def _span(s: int, e: int) -> list[str]:
    return [ms_to_iso(s), ms_to_iso(e)]


# ---- grid helpers --------------------------------------------------------------------------
def grid_ceil(ms: int, tf: Timeframe) -> int:
    o = grid_origin(tf)
    return o - ((o - ms) // tf.ms) * tf.ms


def grid_floor(ms: int, tf: Timeframe) -> int:
    o = grid_origin(tf)
    return o + ((ms - o) // tf.ms) * tf.ms


def _as_ms(value: str | int, what: str) -> int:
    """A bound given as epoch ms (the CLI parses it) or as text (library callers)."""
    if isinstance(value, int):
        return value
    try:
        return parse_utc(value)
    except ValueError as exc:
        raise BadInput(
            "bad_date",
            f"the {what} {value!r} is not a date or datetime",
            "use ISO dates in UTC, e.g. 2024-01-31 or 2024-01-31T12:00",
        ) from exc


def backoff_delay(attempt: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, so many clients that
    failed together do not come back together."""
    d = min(max_s, base_s * (2.0**attempt))
    return d / 2 + rng.uniform(0, d / 2)


# ---- the fetcher ---------------------------------------------------------------------------
@dataclass
class _Run:
    inst: Instrument
    source: CandleSource
    catalog: Catalog
    data: DataSettings
    sleep: Callable[[float], None]
    rng: random.Random
    report: FetchReport
    requests_before: int = 0
    buffer: list[np.ndarray] = field(default_factory=list)

    # -- retries --
    def call(self, fn: Callable[[], T], what: str) -> T:
        attempt = 0
        while True:
            try:
                return fn()
            except TransientSourceError as exc:
                if attempt >= self.data.max_retries:
                    raise _GaveUp(f"{what}: {exc} (after {attempt} retries)") from None
                delay = backoff_delay(
                    attempt, self.data.backoff_base_s, self.data.backoff_max_s, self.rng
                )
                if exc.retry_after_s is not None:  # the server knows better than our guess
                    delay = max(delay, exc.retry_after_s)
                attempt += 1
                self.report.retries += 1
                log.warning(
                    "%s failed (%s); retry %d/%d in %.2fs",
                    what,
                    exc,
                    attempt,
                    self.data.max_retries,
                    delay,
                )
                self.sleep(delay)

    # -- checkpoints --
    def flush(self, covered: Interval) -> None:
        """Write buffered bars and mark ``covered`` as asked-of-the-source."""
        rows = np.concatenate(self.buffer) if self.buffer else np.empty((0, 6))
        if not len(rows) and covered[1] <= covered[0]:
            return
        c = Candles(rows[:, 0].astype(np.int64), *(rows[:, i].copy() for i in range(1, 6)))
        res = self.catalog.write(
            self.inst, c, self.source.name, covered=[covered] if covered[1] > covered[0] else []
        )
        # Only now: if the write is interrupted, the except path writes the same rows again.
        self.buffer = []
        self.report.bars_added += res.added
        self.report.periods_written = sorted(set(self.report.periods_written) | set(res.periods))

    def page(self, cursor: int, end: int) -> tuple[np.ndarray, int | None]:
        """One page: the bars in [cursor, end) and the next cursor (None: source exhausted)."""
        tf = self.inst.timeframe
        raw = self.call(
            lambda: self.source.fetch_page(self.inst.symbol, tf, cursor, self.data.page_limit),
            f"candles from {ms_to_iso(cursor)}",
        )
        if not raw:
            return np.empty((0, 6)), None
        arr = np.asarray(raw, dtype=np.float64).reshape(-1, 6)
        arr = arr[np.argsort(arr[:, 0], kind="stable")]
        last = int(arr[-1, 0])
        if last < cursor:  # an exchange that ignores `since` would otherwise loop forever
            raise RaraError(
                "source_no_progress",
                f"{self.source.name} answered a request for bars from {ms_to_iso(cursor)} with "
                f"bars up to {ms_to_iso(last)} only",
                "this venue seems to ignore the start time; try another exchange",
            )
        keep = (arr[:, 0] >= cursor) & (arr[:, 0] < end)
        arr = arr[keep]
        _, first = np.unique(arr[:, 0], return_index=True)  # a venue may repeat a bar
        arr = arr[np.sort(first)]
        if len(arr):
            c = Candles(arr[:, 0].astype(np.int64), *(arr[:, i] for i in range(1, 6)))
            try:
                check_candles(c, tf, f"{self.source.name} {self.inst.symbol} {tf}")
            except BadInput as exc:  # the venue's fault, not the user's: not exit 2
                raise RaraError(
                    "bad_source_data",
                    exc.message,
                    "nothing from this page was stored; report it or try later",
                ) from None
        return arr, last + tf.ms

    def fetch_range(
        self, start: int, end: int, now_ms: int, progress: Callable[[int], None]
    ) -> None:
        tf = self.inst.timeframe
        cursor, done_to, pages = start, start, 0
        try:
            while cursor < end:
                arr, nxt = self.page(cursor, end)
                if nxt is None:
                    # Nothing more at the venue. Far in the past that is a fact ("covered, no
                    # bars"); close to now it may be the venue lagging, so leave it uncovered.
                    if end > now_ms - (2 * tf.ms + 60_000):
                        end = cursor
                    break
                self.buffer.append(arr)
                self.report.bars_fetched += len(arr)
                progress(len(arr))
                cursor, pages = nxt, pages + 1
                if pages % self.data.flush_every_pages == 0:
                    upto = min(cursor, end)
                    self.flush((done_to, upto))
                    done_to = upto
            self.flush((done_to, min(cursor, end)))
        except (KeyboardInterrupt, _GaveUp, RaraError):
            # Keep what arrived; every bar below `cursor` was answered by the venue.
            self.flush((done_to, min(cursor, end)))
            raise


class _GaveUp(Exception):
    pass


def _gaps(catalog: Catalog, inst: Instrument, lo: int, hi: int) -> GapReport:
    tf = inst.timeframe.ms
    if hi <= lo:
        return GapReport()
    try:
        ts = catalog.load(inst, lo, hi).ts
    except BadInput:  # nothing stored at all
        ts = np.empty(0, dtype=np.int64)
    if not ts.size:
        return GapReport(leading=_span(lo, hi), missing_bars=(hi - lo) // tf)
    g = GapReport()
    missing = 0
    if ts[0] > lo:
        g.leading = _span(lo, int(ts[0]))
        missing += (int(ts[0]) - lo) // tf
    if ts[-1] + tf < hi:
        g.trailing = _span(int(ts[-1]) + tf, hi)
        missing += (hi - int(ts[-1]) - tf) // tf
    interior = find_gaps(ts, tf)
    g.interior = [_span(s, e) for s, e in interior[:100]]
    g.interior_count = len(interior)
    g.missing_bars = missing + sum((e - s) // tf for s, e in interior)
    return g


def fetch_candles(
    exchange: str | None,
    symbol: str,
    timeframe: Timeframe | str,
    start: str | int,
    end: str | int | None = None,
    *,
    settings: Settings,
    catalog: Catalog,
    source: CandleSource | None = None,
    secrets: Secrets | None = None,
    sleep: Callable[[float], None] = time.sleep,
    now_ms: int | None = None,
    jitter_seed: int | None = None,
    console: Console | None = None,
) -> FetchReport:
    """Fetch ``[start, end)`` (UTC; ``end`` defaults to now) into the catalog; see the module
    docstring. Every input is checked offline first, and nothing is written on bad input.

    ``source`` None fetches from the exchange through ccxt, with ``secrets``' keys for it when
    given (public candles need none). ``sleep`` is what waits between retries (tests record it);
    ``jitter_seed`` makes the backoff jitter reproducible; a progress bar is drawn on ``console``
    when one is given."""
    data = settings.data
    exchange_id = (exchange or data.default_exchange).strip().lower()
    if source is None:
        from rara.data.ccxt_source import CcxtSource, check_exchange_id

        check_exchange_id(exchange_id)  # before anything else: the most basic mistake
    tf = as_timeframe(timeframe)
    try:
        inst = Instrument(exchange=exchange_id, symbol=symbol, timeframe=tf)
    except ValueError as exc:
        raise BadInput(
            "bad_symbol",
            f"symbol {symbol!r} is not like BTC/USDT",
            "symbols are BASE/QUOTE (or BASE/QUOTE:SETTLE for derivatives)",
        ) from exc
    now = int(time.time() * 1000) if now_ms is None else now_ms
    start_ms = _as_ms(start, "start")
    end_ms = now if end is None else _as_ms(end, "end")
    if start_ms >= end_ms:
        raise BadInput(
            "bad_range",
            f"start {ms_to_iso(start_ms)} is not before end {ms_to_iso(end_ms)}",
            "swap them, or leave the end out to mean now",
        )
    if source is None:
        source = CcxtSource(exchange_id, data, secrets if secrets is not None else Secrets())
    source.check_timeframe(tf)

    # Whole bars only, and only closed ones: a forming bar must never be marked covered.
    lo, hi = grid_ceil(start_ms, tf), min(grid_floor(end_ms, tf), grid_floor(now, tf))
    have = catalog.covered(inst)
    missing = subtract_intervals((lo, hi), have) if lo < hi else []
    skipped = merge_intervals([(max(s, lo), min(e, hi)) for s, e in have if s < hi and e > lo])
    report = FetchReport(
        exchange=exchange_id,
        symbol=inst.symbol,
        timeframe=str(tf),
        start=ms_to_iso(lo),
        end=ms_to_iso(max(lo, hi)),
        fetched=[_span(s, e) for s, e in missing],
        skipped=[_span(s, e) for s, e in skipped],
    )
    run = _Run(
        inst,
        source,
        catalog,
        data,
        sleep,
        random.Random(jitter_seed),
        report,
        requests_before=source.requests_made,
    )
    if missing:
        _fetch_missing(run, missing, now, console)
    report.requests = source.requests_made - run.requests_before
    report.gaps = _gaps(catalog, inst, lo, hi)
    return report


def _fetch_missing(run: _Run, missing: list[Interval], now: int, console: Console | None) -> None:
    inst, tf = run.inst, run.inst.timeframe
    try:
        run.call(lambda: run.source.validate_symbol(inst.symbol), "loading markets")
    except _GaveUp as exc:
        raise RaraError(
            "fetch_failed", str(exc), "nothing was saved; rerun when the exchange answers again"
        ) from None
    total = sum((e - s) // tf.ms for s, e in missing)
    bar = Progress(
        TextColumn(f"{inst.key}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=console is None,
        transient=False,
    )
    with bar:
        task = bar.add_task("fetch", total=total)
        for s, e in missing:
            try:
                run.fetch_range(s, e, now, lambda n: bar.advance(task, n))
            except _GaveUp as exc:
                spans = [f"{ms_to_iso(a)}..{ms_to_iso(b)}" for a, b in run.catalog.covered(inst)]
                covers = ", ".join(spans[:5]) + (f" and {len(spans) - 5} more" * (len(spans) > 5))
                raise RaraError(
                    "fetch_failed",
                    f"{exc}; saved {run.report.bars_added} new bars, the catalog now covers "
                    f"{covers or 'nothing'} for {inst.key}",
                    "rerun the same command to resume from where it stopped",
                ) from None
        bar.update(task, completed=total)
