"""A paper run seen from outside: the `rara paper run` command line, and read-only looks at what
it left in the state DB of a test's home (its journal, the paper venue's orders and fills, the
ledger's transactions). The kill switch and crash tests poll these while the run's own process
writes, so every read opens its own short read-only connection."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.kit.paths import REPO

if TYPE_CHECKING:
    from rara.trading.session import PaperSession

DONCHIAN = str(REPO / "strategies" / "examples" / "donchian_breakout" / "strategy.py")
# Always long, with a 30% stop and a 50% target: the entry fills on the first bar, its protective
# orders stay open at the venue (neither is reached in the few hundred 1h bars a test replays) and
# a position is held when the replay ends.
ALWAYS_LONG = """
def meta():
    return {"name": "always_long", "version": "1.0.0", "api_version": 1, "timeframe": "1h",
            "lookback": 2, "description": "long whenever flat", "params": {}}


def on_candles(candles, params):
    n = len(candles)
    return ta.full(n, True), ta.full(n, False)


def risk_levels(candles, params):
    n = len(candles)
    return ta.full(n, 0.3), ta.full(n, 0.5)
"""


def paper_run_args(
    strategy: str, start: str, end: str, *extra: str, symbol: str = "BTC/USDT"
) -> list[str]:
    """`rara paper run` over the shipped 1h candles of `symbol` from `start` to `end`."""
    return [
        "paper",
        "run",
        strategy,
        "--symbol",
        symbol,
        "--timeframe",
        "1h",
        "--start",
        start,
        "--end",
        end,
        *extra,
    ]


@dataclass(frozen=True)
class Journaled:
    """One event of the log, as a reader sees it."""

    seq: int
    type: str
    correlation_id: str | None
    payload: dict[str, Any]


@contextmanager
def _reading(home: Path) -> Iterator[sqlite3.Connection]:
    db = home / "rara.db"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=60)
    with closing(con):
        con.row_factory = sqlite3.Row
        yield con


def _has_table(con: sqlite3.Connection, table: str) -> bool:
    row = con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,))
    return row.fetchone() is not None


def journal(home: Path, run_id: str | None = None, *types: str) -> list[Journaled]:
    """Events (of run `run_id`, of `types`), in seq order; none before the DB exists."""
    if not (home / "rara.db").exists():
        return []
    where, args = [], []
    if run_id is not None:
        where.append("correlation_id = ?")
        args.append(run_id)
    if types:
        where.append(f"type IN ({','.join('?' * len(types))})")
        args.extend(types)
    sql = "SELECT seq, type, correlation_id, payload FROM events"
    sql += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY seq"
    with _reading(home) as con:
        if not _has_table(con, "events"):
            return []
        return [
            Journaled(r["seq"], r["type"], r["correlation_id"], json.loads(r["payload"]))
            for r in con.execute(sql, args)
        ]


def _rows(home: Path, table: str, sql: str, *args: object) -> list[dict[str, Any]]:
    if not (home / "rara.db").exists():
        return []
    with _reading(home) as con:
        if not _has_table(con, table):
            return []
        return [dict(r) for r in con.execute(sql, args)]


def venue_orders(home: Path, account: str) -> list[dict[str, Any]]:
    """The paper venue's orders of `account`, in the order it received them."""
    sql = "SELECT * FROM paper_orders WHERE account = ? ORDER BY seq"
    return _rows(home, "paper_orders", sql, account)


def venue_fills(home: Path, account: str) -> list[dict[str, Any]]:
    """The paper venue's fills of `account` (fill id and the fill's JSON)."""
    sql = "SELECT fill_id, fill FROM paper_fills WHERE account = ? ORDER BY seq"
    return _rows(home, "paper_fills", sql, account)


def ledger_transactions(home: Path, account: str) -> list[dict[str, Any]]:
    """The ledger's transactions of `account` (seq, tx_id, kind)."""
    sql = "SELECT seq, tx_id, kind FROM ledger_transactions WHERE account = ? ORDER BY seq"
    return _rows(home, "ledger_transactions", sql, account)


def bars_marked(home: Path, run_id: str) -> int:
    """How many bars run `run_id` has marked (``trading_equity_marked``) so far."""
    if not (home / "rara.db").exists():
        return 0
    sql = "SELECT count(*) FROM events WHERE correlation_id = ? AND type = ?"
    with _reading(home) as con:
        if not _has_table(con, "events"):
            return 0
        return int(con.execute(sql, (run_id, "trading_equity_marked")).fetchone()[0])


def btc_session(
    strategy: str | Path,
    *,
    start: str = "2024-03-01",
    end: str = "2024-03-02",
    run_id: str | None = None,
    params: dict[str, Any] | None = None,
) -> PaperSession:
    """A paper session on the shipped BTC/USDT 1h candles of [start, end), in the test's home."""
    from rara.domain.market import parse_utc
    from rara.home import Home
    from rara.trading.session import open_paper_session

    return open_paper_session(
        Home.from_env(),
        str(strategy),
        symbol="BTC/USDT",
        timeframe="1h",
        start_ms=parse_utc(start),
        end_ms=parse_utc(end),
        run_id=run_id,
        params=params,
    )
