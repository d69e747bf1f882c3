"""`ta`: the causal indicator library strategies see (Strategy API v1).

Every series function returns a new float64 (or bool) array of the input's length whose value at
bar t depends only on inputs at bars <= t. That property is what makes the host's look-ahead check
(signals on a prefix must equal the prefix of the signals) meaningful, so the rules are strict:

* rolling windows end at the current bar (``sliding_window_view`` row i is bars i..i+n-1 and lands
  on bar i+n-1); no centred windows, no ``np.convolve(mode="same")``, no backward fills;
* recursive smoothers (EMA, Wilder) run forward, seeded by the SMA of the first n valid values,
  in fixed blocks anchored after the seed (`ta.recursive`), so their output on a prefix is
  bit-identical to the prefix of their output;
* warm-up bars are NaN (documented per function). NaN inside a rolling window gives NaN; a
  recursive smoother skips a NaN input (NaN out, state kept). Comparisons with NaN are False, so a
  signal built from a warming-up indicator is simply False.

The elementwise helpers (abs, log, where, ...) exist so that strategies never receive the numpy
module itself: they coerce to float64/bool first, which keeps object arrays out of the sandbox.
`API` is the single list of names exposed as ``ta.<name>``; lint and the runtime both read it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from rara_sandbox.ta.calendar import day_of_week, hour_of_day
from rara_sandbox.ta.core import array, as_bool, as_float, full
from rara_sandbox.ta.elementwise import (
    abs_,
    clip,
    exp,
    isfinite,
    isnan,
    log,
    logical_and,
    logical_not,
    logical_or,
    maximum,
    minimum,
    nan_to_num,
    sign,
    sqrt,
    where,
)
from rara_sandbox.ta.indicators import (
    atr,
    bbands,
    crossover,
    crossunder,
    diff,
    ema,
    ffill,
    highest,
    lowest,
    macd,
    rma,
    roc,
    rolling_sum,
    rsi,
    shift,
    sma,
    stdev,
    true_range,
    wma,
    zscore,
)

API: Mapping[str, Any] = MappingProxyType(
    {
        # indicators
        "sma": sma,
        "ema": ema,
        "wma": wma,
        "rma": rma,
        "rsi": rsi,
        "macd": macd,
        "bbands": bbands,
        "atr": atr,
        "true_range": true_range,
        "stdev": stdev,
        "zscore": zscore,
        "roc": roc,
        "highest": highest,
        "lowest": lowest,
        "rolling_mean": sma,
        "rolling_sum": rolling_sum,
        "rolling_max": highest,
        "rolling_min": lowest,
        "rolling_std": stdev,
        "crossover": crossover,
        "crossunder": crossunder,
        "shift": shift,
        "diff": diff,
        "ffill": ffill,
        # calendar (UTC)
        "hour_of_day": hour_of_day,
        "day_of_week": day_of_week,
        # elementwise math and constructors
        "abs": abs_,
        "log": log,
        "exp": exp,
        "sqrt": sqrt,
        "sign": sign,
        "minimum": minimum,
        "maximum": maximum,
        "where": where,
        "clip": clip,
        "nan_to_num": nan_to_num,
        "isnan": isnan,
        "isfinite": isfinite,
        "logical_and": logical_and,
        "logical_or": logical_or,
        "logical_not": logical_not,
        "full": full,
        "array": array,
        "as_bool": as_bool,
        "as_float": as_float,
        "nan": math.nan,
    }
)

# Everything above is also importable for host-side tests and tools; strategies see only API.
__all__ = ["API", *(f.__name__ for f in set(API.values()) if callable(f))]
