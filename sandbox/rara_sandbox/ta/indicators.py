"""Causal indicators: rolling windows that end at the current bar, forward-only smoothers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from rara_sandbox.ta.core import F64, BoolArr, num, period, series
from rara_sandbox.ta.recursive import rolling_extreme, smooth

# -- rolling windows (each output row ends at its own bar) ---------------------------------------


def _rolling(a: F64, n: int, reduce: Callable[[F64], F64]) -> F64:
    out = np.full(a.shape[0], np.nan)
    if a.shape[0] >= n:
        # row i is bars i..i+n-1: the view sliding_window_view builds, without its argument
        # checks (a third of a short window's cost; the proof runs thousands of those)
        step = a.strides[0]
        rows = as_strided(a, shape=(a.shape[0] - n + 1, n), strides=(step, step), writeable=False)
        out[n - 1 :] = reduce(rows)
    return out


def sma(x: object, n: object) -> F64:
    """Simple moving average of the last n bars; NaN for the first n-1 bars."""
    p = period(n, "sma")
    return _rolling(series(x, "sma"), p, lambda w: w.mean(axis=1))


def rolling_sum(x: object, n: object) -> F64:
    """Sum of the last n bars; NaN for the first n-1 bars."""
    p = period(n, "rolling_sum")
    return _rolling(series(x, "rolling_sum"), p, lambda w: w.sum(axis=1))


def highest(x: object, n: object) -> F64:
    """Highest value of the last n bars (bar t included); NaN for the first n-1 bars."""
    p = period(n, "highest")
    return rolling_extreme(series(x, "highest"), p, largest=True)


def lowest(x: object, n: object) -> F64:
    """Lowest value of the last n bars (bar t included); NaN for the first n-1 bars."""
    p = period(n, "lowest")
    return rolling_extreme(series(x, "lowest"), p, largest=False)


def stdev(x: object, n: object, ddof: object = 0) -> F64:
    """Rolling standard deviation of the last n bars (population by default); NaN warm-up n-1."""
    p = period(n, "stdev")
    d = period(ddof, "stdev", "ddof", minimum=0)
    if d >= p:
        raise ValueError(f"ta.stdev: ddof ({d}) must be smaller than n ({p})")
    return _rolling(series(x, "stdev"), p, lambda w: w.std(axis=1, ddof=d))


def _mean_and_stdev(a: F64, p: int) -> tuple[F64, F64]:
    """`sma` and population `stdev` from one pass over the windows: the window mean numpy's std
    computes first is the one it is handed (``mean=``), so both are bit-identical to the two
    separate calls at one reduction less."""
    mean, sd = np.full(a.shape[0], np.nan), np.full(a.shape[0], np.nan)
    if a.shape[0] >= p:
        step = a.strides[0]
        rows = as_strided(a, shape=(a.shape[0] - p + 1, p), strides=(step, step), writeable=False)
        m = rows.mean(axis=1, keepdims=True)
        mean[p - 1 :] = m[:, 0]
        sd[p - 1 :] = rows.std(axis=1, mean=m)
    return mean, sd


def wma(x: object, n: object) -> F64:
    """Linearly weighted moving average (weight n on bar t ... 1 on bar t-n+1); warm-up n-1."""
    p = period(n, "wma")
    w = np.arange(1.0, p + 1.0)
    # Elementwise product then a row reduction, not `@`: BLAS blocks rows differently near the
    # end of an array, which would make a prefix differ from the full run in the last bits.
    return _rolling(series(x, "wma"), p, lambda v: (v * w).sum(axis=1) / w.sum())


def zscore(x: object, n: object) -> F64:
    """(x - sma(x, n)) / stdev(x, n); NaN during warm-up (n-1 bars) and where stdev is 0."""
    a = series(x, "zscore")
    p = period(n, "zscore")
    mean, sd = _mean_and_stdev(a, p)
    with np.errstate(all="ignore"):
        z = (a - mean) / sd
    return np.where(sd > 0.0, z, np.nan)


# -- recursive smoothers (forward only: causal by construction) -----------------------------------


def _smooth(a: F64, n: int, alpha: float) -> F64:
    """EMA-style recursion seeded with the SMA of the first run of n consecutive valid values.

    Before the seed: NaN. After it: NaN inputs give NaN outputs and leave the state untouched.
    Vectorised blockwise (`rara_sandbox.ta.recursive.smooth`), causal bar for bar.
    """
    return smooth(a, n, alpha)


def ema(x: object, n: object) -> F64:
    """Exponential moving average, alpha = 2/(n+1), seeded with an SMA; first value at bar n-1."""
    p = period(n, "ema")
    return _smooth(series(x, "ema"), p, 2.0 / (p + 1.0))


def rma(x: object, n: object) -> F64:
    """Wilder's moving average, alpha = 1/n, seeded with an SMA; first value at bar n-1."""
    p = period(n, "rma")
    return _smooth(series(x, "rma"), p, 1.0 / p)


def rsi(x: object, n: object = 14) -> F64:
    """Wilder's RSI in [0, 100]; first value at bar n; 100 with no losses, 50 when flat."""
    p = period(n, "rsi")
    d = diff(series(x, "rsi"), 1)
    gain = np.where(np.isnan(d), np.nan, np.maximum(d, 0.0))
    loss = np.where(np.isnan(d), np.nan, np.maximum(-d, 0.0))
    ag, al = _smooth(gain, p, 1.0 / p), _smooth(loss, p, 1.0 / p)
    with np.errstate(all="ignore"):
        r = 100.0 - 100.0 / (1.0 + ag / al)
    r = np.where(al == 0.0, np.where(ag > 0.0, 100.0, 50.0), r)
    return np.where(np.isnan(ag) | np.isnan(al), np.nan, r)


def true_range(high: object, low: object, close: object) -> F64:
    """max(high-low, |high-prev close|, |low-prev close|); bar 0 (no previous close) is high-low."""
    h, lo, c = (
        series(high, "true_range", "high"),
        series(low, "true_range", "low"),
        series(close, "true_range", "close"),
    )
    if not h.shape == lo.shape == c.shape:
        raise ValueError("ta.true_range: high, low and close must have the same length")
    pc = _lag(c, 1)
    # fmax ignores the NaN previous close at bar 0, leaving high-low there.
    return np.fmax(h - lo, np.fmax(np.abs(h - pc), np.abs(lo - pc)))


def atr(high: object, low: object, close: object, n: object = 14) -> F64:
    """Average true range, Wilder-smoothed; first value at bar n-1 (mean of the first n TRs)."""
    p = period(n, "atr")
    return _smooth(true_range(high, low, close), p, 1.0 / p)


def macd(
    x: object, fast: object = 12, slow: object = 26, signal: object = 9
) -> tuple[F64, F64, F64]:
    """(macd, signal, histogram): ema(fast)-ema(slow), its ema(signal), and their difference.

    macd starts at bar slow-1, signal and histogram at bar slow+signal-2.
    """
    f, s = period(fast, "macd", "fast"), period(slow, "macd", "slow")
    g = period(signal, "macd", "signal")
    if f >= s:
        raise ValueError(f"ta.macd: fast ({f}) must be smaller than slow ({s})")
    a = series(x, "macd")
    line = ema(a, f) - ema(a, s)
    sig = ema(line, g)
    return line, sig, line - sig


def bbands(x: object, n: object = 20, k: object = 2.0) -> tuple[F64, F64, F64]:
    """Bollinger bands (upper, middle, lower) = sma ± k·stdev (population); warm-up n-1 bars."""
    p = period(n, "bbands")
    kk = float(num(k, "bbands"))
    a = series(x, "bbands")
    mid, sd = _mean_and_stdev(a, p)
    return mid + kk * sd, mid, mid - kk * sd


# -- shifts and comparisons -----------------------------------------------------------------------


def shift(x: object, n: object = 1) -> Any:
    """Value n >= 0 bars ago. Float series get NaN for the first n bars, bool series get False.

    A negative n would read the future, so it is an error.
    """
    if isinstance(n, int | np.integer) and not isinstance(n, bool) and int(n) < 0:
        raise ValueError("ta.shift: n must be >= 0; a negative shift reads future bars")
    k = period(n, "shift", minimum=0)
    raw = np.asarray(x)
    if raw.dtype == np.bool_ and raw.ndim == 1:
        b = np.zeros(raw.shape[0], dtype=np.bool_)
        if k < raw.shape[0]:
            b[k:] = raw[: raw.shape[0] - k]
        return b
    return _lag(series(x, "shift"), k)


def _lag(a: F64, k: int) -> F64:
    out = np.full(a.shape[0], np.nan)
    if k < a.shape[0]:
        out[k:] = a[: a.shape[0] - k]
    return out


def diff(x: object, n: object = 1) -> F64:
    """x[t] - x[t-n]; NaN for the first n bars."""
    k = period(n, "diff")
    a = series(x, "diff")
    return a - _lag(a, k)


def roc(x: object, n: object = 1) -> F64:
    """Fractional rate of change x[t]/x[t-n] - 1 (0.05 = +5%); NaN for the first n bars."""
    k = period(n, "roc")
    a = series(x, "roc")
    prev = _lag(a, k)
    with np.errstate(all="ignore"):
        r = a / prev - 1.0
    return np.where(prev == 0.0, np.nan, r)


def ffill(x: object) -> F64:
    """Carry the last valid value forward over NaN (leading NaN stay NaN)."""
    a = series(x, "ffill")
    idx = np.where(~np.isnan(a), np.arange(a.shape[0]), 0)
    np.maximum.accumulate(idx, out=idx)  # running max: index of the latest valid bar so far
    return a[idx] if a.shape[0] else a.copy()


def _pair(a: object, b: object, fn: str) -> tuple[F64, F64]:
    x, y = num(a, fn), num(b, fn)
    if x.ndim > 1 or y.ndim > 1 or (x.ndim == 0 and y.ndim == 0):
        raise ValueError(f"ta.{fn}: needs a 1-D series and a series or a number")
    if x.ndim == 1 and y.ndim == 1 and x.shape != y.shape:
        raise ValueError(f"ta.{fn}: series lengths differ ({x.shape[0]} vs {y.shape[0]})")
    x, y = np.broadcast_arrays(x, y)
    return x, y


def crossover(a: object, b: object) -> BoolArr:
    """True where a moves from <= b to > b (b may be a number); False at bar 0 and on NaN."""
    x, y = _pair(a, b, "crossover")
    return np.asarray((x > y) & (_lag(x, 1) <= _lag(y, 1)), dtype=np.bool_)


def crossunder(a: object, b: object) -> BoolArr:
    """True where a moves from >= b to < b (b may be a number); False at bar 0 and on NaN."""
    x, y = _pair(a, b, "crossunder")
    return np.asarray((x < y) & (_lag(x, 1) >= _lag(y, 1)), dtype=np.bool_)
