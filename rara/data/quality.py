"""Candle checks shared by every way data enters the catalog (fetch, import, synth)."""

from __future__ import annotations

import numpy as np

from rara.domain.market import Candles, Timeframe, ms_to_iso
from rara.errors import BadInput

WEEK_ORIGIN_MS = 345_600_000  # 1970-01-05, a Monday: exchanges open weekly bars on Mondays


def grid_origin(tf: Timeframe) -> int:
    return WEEK_ORIGIN_MS if tf.value.endswith("w") else 0


def check_order(ts: np.ndarray, what: str) -> None:
    """Strictly increasing timestamps, or a BadInput naming the first offending row."""
    if ts.size < 2:
        return
    bad = np.flatnonzero(np.diff(ts) <= 0)
    if bad.size:
        i = int(bad[0]) + 1
        kind = "duplicate" if ts[i] == ts[i - 1] else "earlier than the row before"
        raise BadInput(
            "timestamps_not_monotonic",
            f"{what}: row {i} timestamp {ms_to_iso(int(ts[i]))} is {kind} "
            f"({ms_to_iso(int(ts[i - 1]))})",
            "sort the rows by time and drop duplicates, then import again",
        )


def check_candles(c: Candles, tf: Timeframe, what: str) -> None:
    """Structure and OHLC sanity; raises BadInput with the first problem found."""
    check_order(c.ts, what)
    off = (c.ts - grid_origin(tf)) % tf.ms
    if np.any(off):
        i = int(np.flatnonzero(off)[0])
        raise BadInput(
            "timestamps_off_grid",
            f"{what}: row {i} ({ms_to_iso(int(c.ts[i]))}) is not on the {tf} grid",
            f"check the bar length: is this really {tf} data? name the one it was sampled at",
        )
    prices = np.vstack([c.open, c.high, c.low, c.close])
    for name, arr in (("price", prices), ("volume", c.volume)):
        if not np.all(np.isfinite(arr)):
            raise BadInput(
                "candles_not_finite",
                f"{what}: {name} has NaN or infinite values",
                "drop or repair those rows before importing",
            )
    if np.any(prices <= 0):
        raise BadInput(
            "candles_nonpositive_price",
            f"{what}: a price is zero or negative",
            "drop or repair those rows before importing",
        )
    if np.any(c.volume < 0):
        raise BadInput(
            "candles_negative_volume",
            f"{what}: a volume is negative",
            "drop or repair those rows before importing",
        )
    bad_hi = c.high < np.maximum(c.open, c.close)
    bad_lo = c.low > np.minimum(c.open, c.close)
    if np.any(bad_hi | bad_lo):
        i = int(np.flatnonzero(bad_hi | bad_lo)[0])
        raise BadInput(
            "candles_inconsistent",
            f"{what}: row {i} ({ms_to_iso(int(c.ts[i]))}) has high below open/close "
            "or low above open/close",
            "are the columns in open, high, low, close order?",
        )


def find_gaps(ts: np.ndarray, tf_ms: int) -> list[tuple[int, int]]:
    """Missing stretches inside ``ts`` as ``[start, end)`` ms ranges of absent bars."""
    if ts.size < 2:
        return []
    step = np.diff(ts)
    idx = np.flatnonzero(step > tf_ms)
    return [(int(ts[i]) + tf_ms, int(ts[i + 1])) for i in idx]
