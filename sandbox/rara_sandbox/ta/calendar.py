"""Calendar helpers: the UTC hour of day and day of week of bar timestamps (epoch ms).

A timestamp is known in advance, so these are causal by construction; what a strategy must get
right is *which* bar it asks about. A signal on bar t fills at bar t+1's open, so a strategy that
wants to hold the bars opening at some hours asks about ``candles.timestamps + bar_ms`` (the open
of the bar its signal trades), not about the bar that gave the signal.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from rara_sandbox.ta.core import F64

MS_PER_HOUR = 3_600_000
MS_PER_DAY = 86_400_000
EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)


def _epoch_ms(timestamps: object, fn: str) -> npt.NDArray[np.int64]:
    a = np.asarray(timestamps)
    if a.ndim != 1:
        raise ValueError(f"ta.{fn}: timestamps must be a 1-D series, got {a.ndim}-D")
    if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.integer):
        # float epoch ms would round above 2**53; the facade's timestamps are int64 already
        raise ValueError(f"ta.{fn}: timestamps must be integer epoch ms (candles.timestamps)")
    return a.astype(np.int64)


def hour_of_day(timestamps: object) -> F64:
    """UTC hour of each timestamp, 0.0 .. 23.0 (float64, like every `ta` series)."""
    ms = _epoch_ms(timestamps, "hour_of_day")
    return ((ms // MS_PER_HOUR) % 24).astype(np.float64)


def day_of_week(timestamps: object) -> F64:
    """UTC weekday of each timestamp, 0.0 (Monday) .. 6.0 (Sunday)."""
    ms = _epoch_ms(timestamps, "day_of_week")
    return ((ms // MS_PER_DAY + EPOCH_WEEKDAY) % 7).astype(np.float64)
