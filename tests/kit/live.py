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
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from rara.closing import Closing
from rara.domain.events import (
    EventPayload,
    TradingEquityMarked,
    TradingExternalFill,
    TradingExternalOrder,
    TradingOrderFilled,
    TradingOrderRejected,
    TradingOrderSubmitted,
    TradingSessionStarted,
)
from rara.events import EventFilter, open_event_store
from rara.ledger import open_ledger
from rara.trading.venues.ccxt_parse import to_venue_client_id
from tests.kit.cli import run_cli
from tests.kit.paper import ALWAYS_LONG
from tests.kit.paths import REPO

# Canary keys: a test greps everything a run leaves behind for them.
KEY = "canaryKEY5e1f0c2b9a8d7e6f5a4b3c2d1CANARY"
SECRET = "canarySECRET0f1e2d3c4b5a69788796a5b4CANARY"
HOUR_MS = 3_600_000
START_MS = 1_700_002_800_000  # a bar's open (1h grid), the emulator's clock at start
ACCOUNT = "acct"
SYMBOL = "BTC/USDT"


# Long after a bar opening on an even hour, flat after an odd one: every two bars an entry (a
# market buy, then its stop-loss resting at the exchange) and an exit (the stop canceled, a
# market sell), so a few bars walk through every kind of order.
ALTERNATING = """
def meta():
    return {"name": "alternating", "version": "1.0.0", "api_version": 1, "timeframe": "1h",
            "lookback": 2, "description": "long after even hours", "params": {}}


def on_candles(candles, params):
    hour = (candles.timestamps // 3600000).astype("f8")
    even = hour % 2.0 == 0.0
    return even, ta.logical_not(even)


def risk_levels(candles, params):
    n = len(candles)
    return ta.full(n, 0.3), ta.full(n, float("nan"))
"""


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


def journal(home: Path, *types: type[EventPayload]) -> list[Any]:
    """The typed payloads of `types` journaled in `home`, oldest first."""
    db = home / "rara.db"
    if not db.exists():
        return []
    with open_event_store(db, readonly=True) as store:
        return [ev.typed() for ev in store.iter_query(EventFilter(types=list(types)))]


def ledger_balances(home: Path, account: str = f"testnet:{ACCOUNT}") -> dict[str, Decimal]:
    """What the ledger says `account` holds (non-zero currencies)."""
    with open_ledger(home / "rara.db", readonly=True) as ledger:
        return {c: v for c, v in ledger.balances(account).items() if v}


class BookedEmulator(Emulator, Protocol):
    @property
    def book(self) -> Any: ...


def venue_holdings(emu: BookedEmulator, key: str = KEY) -> dict[str, Decimal]:
    """What the emulator's account holds (free + locked, non-zero currencies)."""
    totals = {c: free + locked for c, (free, locked) in emu.book.balances(key).items()}
    return {c: v for c, v in totals.items() if v}


def venue_differences(home: Path, emu: BookedEmulator, exchange: str = "binance") -> list[str]:
    """Where the journal and ledger disagree with the exchange: an id placed twice, an order
    placed that no intent journaled (nor reconciliation reported external), an intent neither
    placed nor rejected, a fill journaled twice or not at all, a ledger unlike the account.
    [] when they agree."""
    problems: list[str] = []
    counts = emu.book.count_by_client_id(KEY)
    problems += [f"{cid} placed {n} times" for cid, n in counts.items() if n != 1]
    submitted = {
        to_venue_client_id(exchange, p.client_order_id)
        for p in journal(home, TradingOrderSubmitted)
    }
    rejected = {
        to_venue_client_id(exchange, p.client_order_id)
        for p in journal(home, TradingOrderRejected)
        if p.rejected_by == "venue"
    }
    external = {p.client_order_id for p in journal(home, TradingExternalOrder, TradingExternalFill)}
    problems += [f"{cid} placed, never journaled" for cid in set(counts) - submitted - external]
    problems += [
        f"{cid} journaled, neither placed nor rejected"
        for cid in submitted - set(counts) - rejected
    ]
    fills = [p.fill_id for p in journal(home, TradingOrderFilled, TradingExternalFill)]
    trades = [f"{t.symbol}#{t.trade_id}" for t in emu.book.trades(KEY)]  # ccxt's fill ids
    if sorted(fills) != sorted(trades):
        problems.append(f"fills journaled {sorted(fills)} != trades at the venue {sorted(trades)}")
    ledger, venue = ledger_balances(home), venue_holdings(emu)
    if ledger != venue:
        problems.append(f"ledger {ledger} != venue {venue}")
    return problems


def verify_cli(home: Path) -> None:
    """`rara events verify` and `rara ledger verify`, as a user runs them: both pass."""
    for group in ("events", "ledger"):
        r = run_cli(home, group, "verify")
        assert r.code == 0 and r.json["ok"] is True, (group, r.stdout, r.stderr)


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


class TradeRun(Closing):
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
        keys: dict[str, str] | None = None,
    ) -> None:
        """`keys`: the environment's key variables (default the canary pair, `keys_env`; {}
        for none)."""
        self.home, self.emu = home, emu
        self._started_before = sessions_started(home)
        self._ready = False
        cmd = [sys.executable, "-m", "rara", "trade", "run", str(strategy)]
        cmd += ["--account", account, "--symbol", SYMBOL, "--timeframe", "1h", *args]
        keys = keys_env(exchange) if keys is None else keys
        full_env = {**os.environ, "RARA_HOME": str(home), **keys, **(env or {})}
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

    def close(self) -> None:
        """On leaving a ``with``: a run still going is stopped (SIGTERM)."""
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

    def advance_until(
        self, reached: Callable[[], Any], max_bars: int = 4, timeout_s: float = 90.0
    ) -> Any:
        """Move the exchange's clock a bar at a time (at most `max_bars`) until `reached()` is
        truthy, returned; after each bar wait for it, or for the run to mark the bar (then the
        next bar). For a point inside a bar's work: a scripted hang that stops the run there."""
        self.wait_ready(timeout_s)
        for _ in range(max_bars):
            assert self.emu.now_ms is not None
            self.emu.now_ms += HOUR_MS
            closed = self.emu.now_ms - HOUR_MS
            wait_for(
                lambda c=closed: (
                    reached() or self.proc.poll() is not None or c in marked_bars(self.home)
                ),
                timeout_s,
                why=f"the run to mark bar {closed}",
            )
            if self.proc.poll() is not None:
                self.wait()
                raise AssertionError(f"the run exited: {self.stdout}{self.stderr}")
            got = reached()
            if got:
                return got
        raise AssertionError(f"not reached in {max_bars} bars")

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
