"""Live trading against an exchange emulator: a home configured with one account on it, the
account's keys in the environment, a `rara trade run` subprocess, and the emulator's clock walked
one bar at a time as the run marks each bar.

    with BinanceEmulator(api_keys={KEY: SECRET}, now_ms=START_MS) as emu:
        emu.fund(KEY, "USDT", "10000")
        home = configure_live_home(rara_home, emu)
        with TradeRun(home, emu, strategy_file(rara_home)) as run:
            run.step_bars(3)                # each bar: the clock moves, the run marks it
        run.result()                        # the JSON summary (after SIGTERM, or --max-bars)

The emulator's clock is the exchange's time, and the run reads bar closes from it
(``trading.feed.clock = "exchange"``, re-read on every reading), so a test moves time for both.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from rara.domain.events import TradingEquityMarked, TradingSessionStarted
from rara.events import EventFilter, open_event_store
from tests.kit.paper import ALWAYS_LONG
from tests.kit.paths import REPO

# Canary keys: a test greps everything a run leaves behind for them.
KEY = "canaryKEY5e1f0c2b9a8d7e6f5a4b3c2d1CANARY"
SECRET = "canarySECRET0f1e2d3c4b5a69788796a5b4CANARY"
HOUR_MS = 3_600_000
START_MS = 1_700_002_800_000  # a bar's open (1h grid), the emulator's clock at start
ACCOUNT = "acct"
SYMBOL = "BTC/USDT"


class Emulator(Protocol):
    now_ms: int | None

    @property
    def api_url(self) -> str: ...


def url_overrides(exchange: str, emu: Emulator) -> dict[str, str]:
    """ccxt ``urls['api']`` entries that point `exchange` at the emulator."""
    if exchange == "binance":
        return {"public": emu.api_url, "private": emu.api_url}
    import ccxt

    api = getattr(ccxt, exchange)().urls["api"]
    return {k: emu.api_url for k in api}


def configure_live_home(
    home: Path,
    emu: Emulator,
    *,
    exchange: str = "binance",
    account: str = ACCOUNT,
    extra: str = "",
    **settings: Any,
) -> Path:
    """Write `home`'s config.toml: one testnet account on `exchange` served by `emu`, a feed
    that polls fast and closes bars by the exchange's clock. `settings` are the account's
    (`AccountSettings`) and override the defaults here; `extra` is appended as TOML."""
    acct: dict[str, Any] = {
        "exchange": exchange,
        "symbols": [SYMBOL],
        "deadman_timeout_s": 30,
        "deadman_refresh_s": 1,
        "unknown_order_timeout_s": 2,
        "reconcile_interval_s": 3600,
        **settings,
    }
    urls = url_overrides(exchange, emu)
    lines = [f"[data.url_overrides.{exchange}]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in urls.items()]
    lines += [
        "[data]",
        "request_timeout_ms = 5000",
        "[trading.feed]",
        "poll_interval_s = 0.05",
        "close_delay_s = 0",
        "clock_resync_s = 0",
        f"[trading.accounts.{account}]",
    ]
    lines += [f"{k} = {json.dumps(v)}" for k, v in acct.items()]
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("\n".join(lines) + "\n" + extra)
    return home


def keys_env(exchange: str = "binance", key: str = KEY, secret: str = SECRET) -> dict[str, str]:
    up = exchange.upper()
    return {f"RARA_{up}_API_KEY": key, f"RARA_{up}_SECRET": secret}


def strategy_file(home: Path, source: str = ALWAYS_LONG, name: str = "always_long.py") -> Path:
    path = home / name
    path.write_text(source)
    return path


def marked_bars(home: Path) -> list[int]:
    """Open times of the bars runs in `home` have marked (every run), oldest first."""
    db = home / "rara.db"
    if not db.exists():
        return []
    with open_event_store(db) as store:
        return [
            p.bar_ms
            for p in (
                ev.typed() for ev in store.iter_query(EventFilter(types=[TradingEquityMarked]))
            )
            if isinstance(p, TradingEquityMarked)
        ]


def sessions_started(home: Path) -> int:
    """How many times a run has started (or resumed) in `home`."""
    db = home / "rara.db"
    if not db.exists():
        return 0
    with open_event_store(db) as store:
        return len(store.query(EventFilter(types=[TradingSessionStarted])))


def wait_for(
    what: Callable[[], Any], timeout_s: float = 60.0, every_s: float = 0.05, why: str = ""
) -> Any:
    """`what()`'s first truthy value, polled; AssertionError after `timeout_s` (generous: a
    loaded 2-core machine is slow, and no test asserts on time)."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = what()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {why or what}")
        time.sleep(every_s)


class TradeRun:
    """A `rara trade run` subprocess on `home`'s account, its stdout/stderr captured."""

    def __init__(
        self,
        home: Path,
        emu: Emulator,
        strategy: Path,
        *args: str,
        exchange: str = "binance",
        account: str = ACCOUNT,
        env: dict[str, str] | None = None,
    ) -> None:
        self.home, self.emu = home, emu
        self._started_before = sessions_started(home)
        self._ready = False
        cmd = [sys.executable, "-m", "rara", "trade", "run", str(strategy)]
        cmd += ["--account", account, "--symbol", SYMBOL, "--timeframe", "1h", *args]
        full_env = {**os.environ, "RARA_HOME": str(home), **keys_env(exchange), **(env or {})}
        self.proc = subprocess.Popen(
            cmd,
            env=full_env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout = ""
        self.stderr = ""

    def __enter__(self) -> TradeRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc.poll() is None:
            self.stop()

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        """Until the run has started trading (reconciled, armed, its session event written) or
        exited."""
        if not self._ready:
            wait_for(
                lambda: (
                    self.proc.poll() is not None
                    or sessions_started(self.home) > self._started_before
                ),
                timeout_s,
                why="the run to start",
            )
            self._ready = True

    def step_bars(self, n: int, timeout_s: float = 90.0) -> None:
        """Move the exchange's clock one bar at a time, `n` times, each time waiting until the
        run has marked the bar that just closed."""
        self.wait_ready(timeout_s)
        for _ in range(n):
            assert self.emu.now_ms is not None
            self.emu.now_ms += HOUR_MS
            closed = self.emu.now_ms - HOUR_MS
            wait_for(
                lambda c=closed: self.proc.poll() is not None or c in marked_bars(self.home),
                timeout_s,
                why=f"the run to mark bar {closed}",
            )
            if self.proc.poll() is not None:
                return

    def stop(self, timeout_s: float = 60.0) -> int:
        """SIGTERM, and wait for the run to say goodbye."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout_s)

    def kill(self) -> None:
        self.proc.kill()
        self.wait()

    def wait(self, timeout_s: float = 60.0) -> int:
        out, err = self.proc.communicate(timeout=timeout_s)
        self.stdout += out
        self.stderr += err
        return self.proc.returncode

    def result(self) -> dict[str, Any]:
        """The run's JSON (its summary, or its error)."""
        parsed: dict[str, Any] = json.loads(self.stdout)
        return parsed
