"""Market signals from the candles of a traded symbol: the last bar against the ``window_bars``
before it.

- volatility jump: the last bar's range (high - low) / the baseline's mean range;
- gap: |last open - previous close| / previous close;
- volume spike: the last bar's volume / the baseline's mean volume.

Each is a plain numpy function over arrays (the hot path's style). A signal fires when its value
reaches the threshold: a warning, and critical at twice the threshold (a move that size is the
black swan the sentinel is for). A baseline of zero (a flat or empty window) gives no value,
not an infinite one.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from rara.daemon_settings import SentinelMarketSettings
from rara.domain.market import Candles
from rara.sentinel.classify import Severity

F64 = npt.NDArray[np.float64]

CRITICAL_MULTIPLE = 2.0


class MarketSignal(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    signal: str  # volatility_jump, gap, volume_spike
    severity: Severity
    value: float
    threshold: float
    bar_ms: int  # the open time of the bar that crossed it


def volatility_jump(high: F64, low: F64, window: int) -> float:
    """The last bar's range over the mean range of the `window` bars before it; NaN when there
    are too few bars or the baseline is flat."""
    if high.shape[0] < window + 1:
        return math.nan
    ranges = high[-window - 1 :] - low[-window - 1 :]
    baseline = float(np.mean(ranges[:-1]))
    return float(ranges[-1]) / baseline if baseline > 0 else math.nan


def gap(open_: F64, close: F64) -> float:
    """|last open - previous close| / previous close; NaN without two bars or a zero close."""
    if open_.shape[0] < 2:
        return math.nan
    previous = float(close[-2])
    return abs(float(open_[-1]) - previous) / previous if previous > 0 else math.nan


def volume_spike(volume: F64, window: int) -> float:
    """The last bar's volume over the mean volume of the `window` bars before it."""
    if volume.shape[0] < window + 1:
        return math.nan
    baseline = float(np.mean(volume[-window - 1 : -1]))
    return float(volume[-1]) / baseline if baseline > 0 else math.nan


def market_signals(candles: Candles, settings: SentinelMarketSettings) -> list[MarketSignal]:
    """The signals the last bar of `candles` raises (none on calm data)."""
    if len(candles) == 0:
        return []
    window = settings.window_bars
    measured = (
        (
            "volatility_jump",
            volatility_jump(candles.high, candles.low, window),
            settings.volatility_jump,
        ),
        ("gap", gap(candles.open, candles.close), settings.gap),
        ("volume_spike", volume_spike(candles.volume, window), settings.volume_spike),
    )
    bar_ms = int(candles.ts[-1])
    out = []
    for name, value, threshold in measured:
        if math.isfinite(value) and value >= threshold:
            severity = "critical" if value >= CRITICAL_MULTIPLE * threshold else "warning"
            out.append(
                MarketSignal(
                    signal=name,
                    severity=severity,
                    value=round(value, 6),
                    threshold=threshold,
                    bar_ms=bar_ms,
                )
            )
    return out
