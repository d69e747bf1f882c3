"""The emulated exchange's markets: candles as a pure function of (seed, symbol, interval, bar
index), read at a given moment and through trading halts.

`klines` is what `tests.emulators.exchange.BinanceEmulator` serves. A bar that has not closed
by the moment asked (it is forming, or trading halted inside it) has traded only part of its
interval: its close has gone that share of the way from its open and its volume has grown that
share, as a real venue's forming bar does. No bar opens during a halt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

INTERVAL_MS = {
    "1s": 1_000,
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
}
WEEK_ORIGIN_MS = 345_600_000  # Binance weekly bars open on Mondays (1970-01-05)
DEFAULT_LISTING_MS = 1_500_000_000_000  # 2017-07-14

Halt = tuple[int, int | None]  # [start, end) without trading; end None: still halted


@dataclass
class Market:
    base: str
    quote: str
    listing_ms: int = DEFAULT_LISTING_MS
    price0: float = 100.0
    gaps: list[tuple[int, int]] = field(default_factory=list)  # [start, end) with no bars

    @property
    def id(self) -> str:
        return self.base + self.quote


def _splitmix(x: np.ndarray) -> np.ndarray:
    """A counter-based hash (splitmix64 finaliser): seeded noise without any state."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    out: np.ndarray = x ^ (x >> np.uint64(31))
    return out


def _noise(seed: int, salt: int, k: np.ndarray) -> np.ndarray:
    """Uniform [0, 1) per bar index, deterministic in (seed, salt, k)."""
    key = np.uint64((seed * 1_000_003 + salt) & 0xFFFF_FFFF_FFFF_FFFF)
    h = _splitmix(_splitmix(k.astype(np.uint64) ^ key))
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def float_rows(rows: list[list[Any]]) -> np.ndarray:
    """Kline rows as float rows [ts, open, high, low, close, volume] (the catalog's columns)."""
    return np.array([[r[0], *map(float, r[1:6])] for r in rows], dtype=np.float64).reshape(-1, 6)


def klines(
    seed: int,
    m: Market,
    interval: str,
    start_ms: int | None,
    end_ms: int | None,
    limit: int | None,
    now: int,
    halts: list[Halt],
    closed_only: bool = False,
) -> list[list[Any]]:
    """Binance's 12-field kline rows of ``m`` opening in ``[start_ms, end_ms]`` (inclusive, as
    Binance's startTime/endTime), at most ``limit``, as the exchange serves them at ``now``:
    up to the bar forming then, or with ``closed_only`` only the bars closed by then. No
    ``start_ms`` with a ``limit`` means the latest bars, as on Binance."""
    tf = INTERVAL_MS[interval]
    origin = WEEK_ORIGIN_MS if interval == "1w" else 0
    last_open = min(now - tf if closed_only else now, end_ms if end_ms is not None else 1 << 62)
    first_open = max(m.listing_ms, start_ms if start_ms is not None else 0)
    k0 = -((origin - first_open) // tf)  # ceil: the first bar opening at or after
    k1 = (last_open - origin) // tf  # the last bar opening at or before (may be forming)
    if k1 < k0:
        return []
    if start_ms is None and limit is not None:  # Binance: no startTime -> the latest bars
        k0 = max(k0, k1 - limit + 1)
    out: list[list[Any]] = []
    # Walk in chunks so a gap or a small limit does not make us build millions of bars.
    k = k0
    while k <= k1 and (limit is None or len(out) < limit):
        ks = np.arange(k, min(k1, k + 4096 - 1) + 1, dtype=np.int64)
        k = int(ks[-1]) + 1
        ts = origin + ks * tf
        keep = np.ones(ks.size, dtype=bool)
        for gs, ge in m.gaps:
            keep &= ~((ts >= gs) & (ts < ge))
        for hs, he in halts:  # no bar opens while trading is halted
            keep &= ~((ts >= hs) & (ts < (he if he is not None else 1 << 62)))
        ks, ts = ks[keep], ts[keep]
        for row in _rows(seed, m, interval, ks, ts, tf, now, halts):
            out.append(row)
            if limit is not None and len(out) >= limit:
                break
    return out


def _rows(
    seed: int,
    m: Market,
    interval: str,
    ks: np.ndarray,
    ts: np.ndarray,
    tf: int,
    now: int,
    halts: list[Halt],
) -> list[list[Any]]:
    # not hash(): str hashes are salted per process, and the truth must match across them
    salt = sum(ord(c) * 31**i for i, c in enumerate(m.id + interval)) & 0xFFFF_FFFF

    def close_at(k: np.ndarray) -> np.ndarray:
        kf = k.astype(np.float64)
        walk = 0.08 * np.sin(kf / 2000.0 + salt % 7) + 0.02 * np.sin(kf / 173.0)
        noise = 0.004 * (_noise(seed, salt, k) - 0.5)
        out: np.ndarray = np.round(m.price0 * np.exp(walk + noise), 2)
        return out

    close = close_at(ks)
    open_ = close_at(ks - 1)  # the previous bar's close: a continuous series
    body_hi, body_lo = np.maximum(open_, close), np.minimum(open_, close)
    high = np.round(body_hi * (1 + 0.002 * _noise(seed, salt + 1, ks)), 2)
    low = np.round(body_lo * (1 - 0.002 * _noise(seed, salt + 2, ks)), 2)
    high, low = np.maximum(high, body_hi), np.minimum(low, body_lo)
    vol = np.round(1 + 50 * _noise(seed, salt + 3, ks), 5)
    # A bar has traded until now or until a halt that began inside it: if that is before
    # its close (forming, or the last before a halt), its close has gone only that share of
    # the way from the open and its volume has grown only that share.
    traded_until = np.full(ts.size, now, dtype=np.int64)
    for hs, _ in halts:
        inside = (ts <= hs) & (hs < ts + tf)
        traded_until[inside] = np.minimum(traded_until[inside], hs)
    forming = ts + tf > traded_until
    if forming.any():
        share = np.clip((traded_until[forming] - ts[forming]) / tf, 0.0, 1.0)
        o = open_[forming]
        close[forming] = np.round(o + (close[forming] - o) * share, 2)
        high[forming] = np.maximum(o, close[forming])
        low[forming] = np.minimum(o, close[forming])
        vol[forming] = np.round(vol[forming] * share, 5)
    rows = []
    for i in range(ks.size):
        t = int(ts[i])
        rows.append(
            [
                t,
                f"{open_[i]:.8f}",
                f"{high[i]:.8f}",
                f"{low[i]:.8f}",
                f"{close[i]:.8f}",
                f"{vol[i]:.8f}",
                t + tf - 1,
                f"{vol[i] * close[i]:.8f}",
                100,
                f"{vol[i] / 2:.8f}",
                f"{vol[i] * close[i] / 2:.8f}",
                "0",
            ]
        )
    return rows
