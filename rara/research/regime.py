"""The regime tagger (`tag_regime`) labels a candle history with one `Regime`, simply:

- ``high_volatility`` when the annualised volatility of log returns exceeds ``vol_threshold``
  (default 1.0, i.e. 100 % a year: above most large caps' norm, reached by alts in turmoil);
- else ``trend_up`` / ``trend_down`` when the drift z-score (net log return over the window
  divided by sigma * sqrt(bars), i.e. the move in units of what noise alone would produce)
  exceeds ``trend_threshold`` (default 1.0) in either direction;
- else ``range``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rara.domain.market import Candles
from rara.research.models import Regime

YEAR_MS = 365 * 86_400_000


@dataclass(frozen=True)
class RegimeReading:
    regime: Regime
    annual_vol: float
    trend_z: float
    bars: int


def measure_regime(
    candles: Candles,
    *,
    window: int | None = None,
    vol_threshold: float = 1.0,
    trend_threshold: float = 1.0,
) -> RegimeReading:
    """The regime of the last ``window`` bars (all when None) with the numbers behind it."""
    close = candles.close if window is None else candles.close[-(window + 1) :]
    ts = candles.ts if window is None else candles.ts[-(window + 1) :]
    ok = np.isfinite(close) & (close > 0)
    close, ts = close[ok], ts[ok]
    if close.size < 3:
        return RegimeReading("range", 0.0, 0.0, int(close.size))
    r = np.diff(np.log(close))
    bar_ms = float(np.median(np.diff(ts))) or 1.0
    sd = float(np.std(r))
    vol = sd * math.sqrt(YEAR_MS / bar_ms)
    z = float(r.sum()) / (sd * math.sqrt(r.size)) if sd > 0 else 0.0
    regime: Regime
    if vol > vol_threshold:
        regime = "high_volatility"
    elif z > trend_threshold:
        regime = "trend_up"
    elif z < -trend_threshold:
        regime = "trend_down"
    else:
        regime = "range"
    return RegimeReading(regime, vol, z, int(r.size))


def tag_regime(
    candles: Candles,
    *,
    window: int | None = None,
    vol_threshold: float = 1.0,
    trend_threshold: float = 1.0,
) -> Regime:
    """One label for a candle history (rules in the module docstring)."""
    return measure_regime(
        candles, window=window, vol_threshold=vol_threshold, trend_threshold=trend_threshold
    ).regime
