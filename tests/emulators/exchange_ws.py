"""A Binance-style WebSocket kline stream on 127.0.0.1, enough for ccxt.pro's
``binance.watch_ohlcv``, served from the candles and the clock of a `BinanceEmulator`.

ccxt.pro connects to ``urls['api']['ws']['spot'] + '/<stream index>'``, sends
``{"method": "SUBSCRIBE", "params": ["btcusdt@kline_1h"], "id": N}`` and reads kline events
``{"e": "kline", "s": "BTCUSDT", "k": {"t": open, "i": "1h", "o": ..., "x": final, ...}}``. It
takes the market as spot only when the URL holds ``/stream``, so the emulator serves
``ws://127.0.0.1:PORT/stream/ws`` (`BinanceWsEmulator.ws_url`, what
``trading.feed.ws_url_overrides.binance`` takes).

As on Binance, a subscription hears the bar forming at the clock and every change to it; when
the clock moves past its close, the bar's final values (``"x": true``) come before the next bar's
first message. The clock is the REST emulator's (``now_ms``), read every ``tick_s``: a test that
moves it sees the stream follow. Each connection sends a bar only when its values changed.

Faults: `drop` (the server never sends the bars of a range: a gap the client must fill from
REST), `kill` (every open socket is closed), ``refuse`` (new connections are turned away with a
503 while set) and ``resend_on_connect`` (a new subscription first repeats that many closed bars:
the duplicates a reconnect brings). ``connections`` counts the sockets accepted and ``sent``
records every kline sent.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.emulators.candles import INTERVAL_MS
from tests.emulators.exchange import BinanceEmulator

WS_PATH = "/stream/ws"


@dataclass
class _Subscription:
    symbol_id: str  # BTCUSDT
    interval: str  # 1h
    cursor: int  # open time of the oldest bar still to watch
    sent: dict[int, tuple[float, ...]] = field(default_factory=dict)  # what was last sent per bar


class BinanceWsEmulator:
    """Use as a context manager around a started `BinanceEmulator`."""

    def __init__(self, rest: BinanceEmulator, tick_s: float = 0.01) -> None:
        self.rest = rest
        self.tick_s = tick_s
        self.refuse = False
        self.resend_on_connect = 0
        self.connections = 0
        self.refused = 0
        self.sent: list[tuple[int, int, bool]] = []  # (connection number, bar open, final)
        self._drops: list[tuple[int, int]] = []
        self._sockets: set[web.WebSocketResponse] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self) -> BinanceWsEmulator:
        started = threading.Event()
        loop = asyncio.new_event_loop()
        self._loop = loop

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self._open())
            started.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        started.wait(timeout=30)
        assert self._port is not None, "the WebSocket emulator did not start"
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop = None

    def __enter__(self) -> BinanceWsEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def ws_url(self) -> str:
        assert self._port is not None, "emulator not started"
        return f"ws://127.0.0.1:{self._port}{WS_PATH}"

    # ---- scripting -----------------------------------------------------------------------
    def drop(self, start_ms: int, end_ms: int) -> None:
        """Never send the bars opening in ``[start_ms, end_ms)`` (the REST side still has them)."""
        self._drops.append((start_ms, end_ms))

    def kill(self) -> None:
        """Close every open socket now (the client sees the server go away)."""
        assert self._loop is not None, "emulator not started"
        asyncio.run_coroutine_threadsafe(self._close_all(), self._loop).result(timeout=30)

    @property
    def open_sockets(self) -> int:
        return len(self._sockets)

    # ---- the server ----------------------------------------------------------------------
    async def _open(self) -> None:
        app = web.Application()
        app.router.add_get(WS_PATH, self._serve)
        app.router.add_get(WS_PATH + "/{stream}", self._serve)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # aiohttp keeps the bound socket here; port 0 picked a free one
        assert server is not None
        self._port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

    async def _shutdown(self) -> None:
        await self._close_all()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _close_all(self) -> None:
        for ws in list(self._sockets):
            await ws.close()

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        if self.refuse:
            self.refused += 1
            return web.Response(status=503, text="Service Unavailable")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connections += 1
        conn = self.connections
        self._sockets.add(ws)
        subs: list[_Subscription] = []
        pusher = asyncio.create_task(self._push(ws, conn, subs))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                req = json.loads(msg.data)
                if req.get("method") == "SUBSCRIBE":
                    for name in req.get("params", []):
                        subs.append(self._subscription(name))
                await ws.send_str(json.dumps({"result": None, "id": req.get("id")}))
        finally:
            pusher.cancel()
            self._sockets.discard(ws)
        return ws

    def _subscription(self, name: str) -> _Subscription:
        market, _, channel = name.partition("@")  # btcusdt@kline_1h
        interval = channel.removeprefix("kline_")
        step = INTERVAL_MS[interval]
        forming = self.rest.now() // step * step
        return _Subscription(market.upper(), interval, forming - self.resend_on_connect * step)

    async def _push(self, ws: web.WebSocketResponse, conn: int, subs: list[_Subscription]) -> None:
        """Send each subscription's bars from its cursor to the forming one, when changed."""
        while not ws.closed:
            for sub in subs:
                await self._push_one(ws, conn, sub)
            await asyncio.sleep(self.tick_s)

    async def _push_one(self, ws: web.WebSocketResponse, conn: int, sub: _Subscription) -> None:
        step = INTERVAL_MS[sub.interval]
        now = self.rest.now()
        rows = self.rest.bars(sub.symbol_id, sub.interval, sub.cursor, now + step)
        for row in rows.tolist():
            t = int(row[0])
            values = tuple(row[1:6])
            sub.cursor = max(sub.cursor, t)
            if any(a <= t < b for a, b in self._drops) or sub.sent.get(t) == values:
                continue
            sub.sent = {k: v for k, v in sub.sent.items() if k >= t - step}  # stays small
            sub.sent[t] = values
            event = self._event(sub, t, values, now)
            self.sent.append((conn, t, event["k"]["x"]))
            await ws.send_str(json.dumps(event))

    @staticmethod
    def _event(sub: _Subscription, t: int, values: tuple[float, ...], now: int) -> dict[str, Any]:
        step = INTERVAL_MS[sub.interval]
        o, h, lo, c, v = (repr(x) for x in values)  # repr: the exact float back in the client
        return {
            "e": "kline",
            "E": now,
            "s": sub.symbol_id,
            "k": {
                "t": t,
                "T": t + step - 1,
                "s": sub.symbol_id,
                "i": sub.interval,
                "f": 0,
                "L": 0,
                "o": o,
                "c": c,
                "h": h,
                "l": lo,
                "v": v,
                "n": 0,
                "x": t + step <= now,
                "q": "0",
                "V": "0",
                "Q": "0",
                "B": "0",
            },
        }
