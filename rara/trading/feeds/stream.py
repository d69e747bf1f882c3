"""`StreamingFeed`: closed bars of one instrument over the exchange's WebSocket (ccxt.pro
``watch_ohlcv``), with REST polling behind it.

ccxt.pro is asyncio and the engine is not, so the socket lives in a thread of its own with its
own event loop; every candle it hears goes through a thread-safe queue to `next_batch`, which
alone decides what is closed. A kline message carries the forming bar: a bar is closed once the
stream has shown a newer one *on the same connection* (the venue sends a bar's final values
before the next bar's first) and the clock says it has settled (``open + interval +
close_delay_s``). What the stream shows about the bar forming when a connection drops is
discarded: its last values may not be its final ones.

Each bar is emitted once, in order: a bar at or before the last one emitted (a resend after a
reconnect) is dropped. When the stream shows a bar later than the next one expected (it skipped
some, or the socket was down across closes), the missing bars are fetched over REST before the
later bar is emitted. REST is `PollingFeed`'s own code (this feed is one, with the stream as
its faster source): it also carries the feed while the socket is down or not yet up, and when
the stream has not delivered a due bar within ``poll_interval_s`` (a silent socket, a halted
market), so the feed never stalls because the socket died. Staleness is `PollingFeed`'s.

The socket reconnects by itself, with backoff. ``trading.feed.ws_url_overrides.<exchange>``
replaces the exchange's WebSocket base URLs (how tests point it at the emulator), as
``data.url_overrides`` does its REST ones; `open_live_feed` streams only where the exchange has
``watchOHLCV`` and, when its REST URLs are overridden, its WebSocket URL is too, so a feed
pointed at a mirror or an emulator never opens the real exchange's socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import queue
import random
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

from rara.config import DataSettings
from rara.data.ccxt_source import load_only_market_family
from rara.data.fetch import backoff_delay
from rara.domain.market import Instrument
from rara.trading.feed import ClosedBar, FeedBatch
from rara.trading.feeds.poll import PollingFeed, wall_clock_ms
from rara.trading_settings import FeedSettings

log = logging.getLogger(__name__)

TICK_S = 0.05  # how often a waiting reader looks at the clock again (a bar settling)
RECONNECT_BASE_S = 0.25  # first wait before a reconnect, doubled up to retry_max_s

# What the socket thread tells the reader: a candle, the socket is up, or it went down.
Note = tuple[Literal["row"], ClosedBar] | tuple[Literal["up", "down"], str]


def streams_ohlcv(exchange_id: str, data: DataSettings, feed: FeedSettings) -> bool:
    """Whether ccxt.pro can watch this exchange's candles, at a URL the settings allow."""
    import ccxt.pro

    if exchange_id not in ccxt.pro.exchanges:
        return False
    if data.url_overrides.get(exchange_id) and exchange_id not in feed.ws_url_overrides:
        return False  # REST points at a mirror or an emulator, and the socket would not
    return bool(getattr(ccxt.pro, exchange_id)().has.get("watchOHLCV"))


def pro_exchange(exchange_id: str, data: DataSettings, ws_url: str | None, symbol: str) -> Any:
    """The ccxt.pro exchange for public candles: ``data``'s timeouts and REST URL overrides (for
    its market list), ``ws_url`` for the socket, loading only the symbol's market family."""
    import ccxt.pro

    config: dict[str, Any] = {"enableRateLimit": True, "timeout": data.request_timeout_ms}
    if data.rate_limit_ms is not None:
        config["rateLimit"] = data.rate_limit_ms
    ex = getattr(ccxt.pro, exchange_id)(config)
    api = ex.urls.get("api")
    if isinstance(api, dict):
        api.update(data.url_overrides.get(exchange_id, {}))  # checked by the REST source
        if ws_url is not None:
            ws = api.get("ws")
            if isinstance(ws, dict):  # one URL per market type: the emulator serves them all
                ws.update({k: ws_url for k, v in ws.items() if isinstance(v, str)})
            else:
                api["ws"] = ws_url
    # Candles need only the market list (see rara.data.ccxt_source.CcxtSource).
    ex.has["fetchCurrencies"] = False
    load_only_market_family(ex, symbol)
    return ex


class StreamingFeed(PollingFeed):
    """Closed bars of ``instrument`` from its exchange's WebSocket, REST behind it. Arguments as
    `PollingFeed`'s. The socket opens on the first read (`history` or `next_batch`) and closes
    with `close`."""

    def __init__(
        self,
        instrument: Instrument,
        data: DataSettings,
        feed: FeedSettings | None = None,
        *,
        after_ms: int | None = None,
        clock: Callable[[], int] = wall_clock_ms,
    ) -> None:
        super().__init__(instrument, data, feed, after_ms=after_ms, clock=clock)
        self._inbox: queue.SimpleQueue[Note] = queue.SimpleQueue()
        self._seen: dict[int, ClosedBar] = {}  # the stream's latest values, by open time
        self._head: int | None = None  # newest open time on this connection: older ones closed
        self._up = False  # the socket is subscribed and answering
        self._due_mono: float | None = None  # monotonic time the next bar was first due
        self._gap_asked: tuple[int, int] | None = None  # (last, head) of the gap last asked at once
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._started = threading.Event()
        self._reconnects = 0

    # ---- the port ------------------------------------------------------------------------
    @property
    def streaming(self) -> bool:
        """Whether the socket is up (as of the last read)."""
        return self._up

    @property
    def reconnects(self) -> int:
        """Times the socket dropped after being up (the feed then reconnects, with backoff)."""
        return self._reconnects

    def history(self, bars: int) -> tuple[ClosedBar, ...]:
        self._open_stream()  # first: what closes while the warm-up is fetched is heard
        return super().history(bars)

    def next_batch(self, max_bars: int, timeout_s: float) -> FeedBatch:
        self._open_stream()
        return super().next_batch(max_bars, timeout_s)

    def close(self) -> None:
        """Stop the socket thread (closing the ccxt.pro exchange), then the REST session."""
        if self._thread is not None:
            self._started.wait(timeout=30)
            loop, task = self._loop, self._task
            if loop is not None and task is not None and not loop.is_closed():
                # RuntimeError: the loop closed meanwhile, the thread is ending anyway
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(task.cancel)
            self._thread.join(timeout=60)
            self._thread = None
        self._seen.clear()
        super().close()

    # ---- the reader's side (PollingFeed's hooks) ----------------------------------------
    def _gather(self, take: int) -> None:
        """Take what the stream heard; poll REST when it is down, skipped bars, or is late."""
        self._drain(0.0)
        self._admit()
        if len(self._pending) < take and self._rest_wanted():
            super()._gather(take)
            self._admit()
        if self._pending:
            self._due_mono = None

    def _wait(self, deadline: float) -> None:
        """Wait for the stream (or the clock: a bar settling) up to ``deadline``."""
        self._drain(max(0.0, min(deadline - time.monotonic(), TICK_S)))

    def _drain(self, block_s: float) -> None:
        try:
            note = self._inbox.get(timeout=block_s) if block_s > 0 else self._inbox.get_nowait()
        except queue.Empty:
            return
        while True:
            self._hear(note)
            try:
                note = self._inbox.get_nowait()
            except queue.Empty:
                return

    def _hear(self, note: Note) -> None:
        if note[0] == "row":
            bar = note[1]
            if self._last_ms is None or bar.open_ms > self._last_ms:
                self._seen[bar.open_ms] = bar
            self._head = bar.open_ms if self._head is None else max(self._head, bar.open_ms)
        elif note[0] == "up":
            self._up = True
        else:
            if self._up:
                self._reconnects += 1
                log.warning("%s: stream down (%s); REST carries it", self._instrument.key, note[1])
            self._up = False
            if self._head is not None:  # the bar forming when it dropped: values not final
                self._seen = {t: b for t, b in self._seen.items() if t < self._head}

    def _admit(self) -> None:
        """Move the bars the stream has closed and the clock has settled, next in line, to the
        batch; forget what is at or before the last bar."""
        assert self._last_ms is not None
        step = self._tf.ms
        while self._head is not None:
            nxt = self._last_ms + step
            bar = self._seen.get(nxt)
            if bar is None or nxt >= self._head or nxt + step + self._delay_ms > self._clock():
                break
            self._pending.append(bar)
            self._last_ms = nxt
        self._seen = {t: b for t, b in self._seen.items() if t > self._last_ms}

    def _rest_wanted(self) -> bool:
        """REST is asked when the stream is not up, when it skipped the next bar (a gap: asked
        at once, then on the poll schedule: the venue itself may not have the bar), or when the
        next bar has been due for a poll interval without the stream bringing it."""
        assert self._last_ms is not None
        if not self._up:
            return True
        step = self._tf.ms
        nxt = self._last_ms + step
        if self._head is not None and self._head > nxt and nxt not in self._seen:
            gap = (self._last_ms, self._head)
            if self._failures == 0 and self._gap_asked != gap:
                self._gap_asked = gap
                self._poll_at = min(self._poll_at, time.monotonic())
            return True
        if nxt + step + self._delay_ms > self._clock():
            self._due_mono = None
            return False
        now = time.monotonic()
        if self._due_mono is None:
            self._due_mono = now
        return now - self._due_mono >= self._feed.poll_interval_s

    # ---- the socket's side (its own thread and event loop) -------------------------------
    def _open_stream(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, name=f"feed-stream-{self._instrument.key}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            self._loop = loop
            self._task = loop.create_task(self._watch())
            self._started.set()
            try:
                loop.run_until_complete(self._task)
            except asyncio.CancelledError:
                pass
            except Exception as exc:  # the socket cannot be had at all: REST carries the feed
                log.warning("%s: no stream: %s", self._instrument.key, exc)
                self._inbox.put(("down", f"{type(exc).__name__}: {str(exc)[:300]}"))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            self._started.set()
            loop.close()

    async def _watch(self) -> None:
        inst = self._instrument
        ws_url = self._feed.ws_url_overrides.get(inst.exchange)
        ex = pro_exchange(inst.exchange, self._data, ws_url, inst.symbol)  # offline
        rng = random.Random()
        failures = 0
        up = False
        try:
            while True:
                try:
                    rows = await ex.watch_ohlcv(inst.symbol, str(self._tf))
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # anything: the feed carries on over REST meanwhile
                    up = False
                    self._inbox.put(("down", f"{type(exc).__name__}: {str(exc)[:300]}"))
                    await asyncio.sleep(
                        backoff_delay(failures, RECONNECT_BASE_S, self._feed.retry_max_s, rng)
                    )
                    failures += 1
                    continue
                if not up:
                    up, failures = True, 0
                    self._inbox.put(("up", ""))
                for r in rows:
                    values = r[1:6]
                    if r[0] is None or any(x is None or not math.isfinite(x) for x in values):
                        continue
                    self._inbox.put(("row", ClosedBar(int(r[0]), *(float(x) for x in values))))
        finally:
            await ex.close()
