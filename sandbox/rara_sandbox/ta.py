"""`ta`: the causal indicator library strategies see (Strategy API v1).

Every series function returns a new float64 (or bool) array of the input's length whose value at
bar t depends only on inputs at bars <= t. That property is what makes the host's look-ahead check
(signals on a prefix must equal the prefix of the signals) meaningful, so the rules are strict:

* rolling windows end at the current bar (``sliding_window_view`` row i is bars i..i+n-1 and lands
  on bar i+n-1); no centred windows, no ``np.convolve(mode="same")``, no backward fills;
* recursive smoothers (EMA, Wilder) run forward in a plain loop, seeded by the SMA of the first n
  valid values, so their output on a prefix is bit-identical to the prefix of their output;
* warm-up bars are NaN (documented per function). NaN inside a rolling window gives NaN; a
  recursive smoother skips a NaN input (NaN out, state kept). Comparisons with NaN are False, so a
  signal built from a warming-up indicator is simply False.

The elementwise helpers (abs, log, where, ...) exist so that strategies never receive the numpy
module itself: they coerce to float64/bool first, which keeps object arrays out of the sandbox.
`API` is the single list of names exposed as ``ta.<name>``; lint and the runtime both read it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

F64 = npt.NDArray[np.float64]
BoolArr = npt.NDArray[np.bool_]
MAX_PERIOD = 100_000
MAX_FULL = 10_000_000  # ta.full(n, ...) bound: a typo should fail fast, not eat the memory limit


# -- argument coercion ----------------------------------------------------------------------------


def _series(x: object, fn: str, arg: str = "x") -> F64:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"ta.{fn}: {arg} must be numeric, got {type(x).__name__}") from e
    if a.ndim != 1:
        raise ValueError(f"ta.{fn}: {arg} must be a 1-D series, got {a.ndim}-D")
    return a


def _num(x: object, fn: str) -> F64:
    """Scalar or series as float64 (0-d for scalars)."""
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"ta.{fn}: expected numbers, got {type(x).__name__}") from e


def _period(n: object, fn: str, arg: str = "n", minimum: int = 1) -> int:
    # bool is an int subclass; ta.sma(x, True) is a bug, not a period of 1.
    if isinstance(n, bool) or not isinstance(n, int | float | np.integer | np.floating):
        raise ValueError(f"ta.{fn}: {arg} must be an int, got {type(n).__name__}")
    if isinstance(n, float | np.floating) and not float(n).is_integer():
        raise ValueError(f"ta.{fn}: {arg} must be a whole number, got {n}")
    v = int(n)
    if not minimum <= v <= MAX_PERIOD:
        raise ValueError(f"ta.{fn}: {arg} must be between {minimum} and {MAX_PERIOD}, got {v}")
    return v


def _is_bool(x: object) -> bool:
    return isinstance(x, bool | np.bool_) or (isinstance(x, np.ndarray) and x.dtype == np.bool_)


def as_bool(x: object) -> BoolArr:
    """Boolean copy: bools stay, numbers are True when non-zero and not NaN."""
    a = np.asarray(x)
    if a.dtype == np.bool_:
        return np.array(a, dtype=np.bool_)
    f = _num(a, "as_bool")
    return np.asarray((f != 0.0) & ~np.isnan(f), dtype=np.bool_)


def as_float(x: object) -> F64:
    """Float64 copy (bools become 0.0/1.0)."""
    return np.array(_num(x, "as_float"), dtype=np.float64)


def array(values: object) -> F64:
    """A 1-D float64 series from a list of numbers."""
    return np.array(_series(values, "array", "values"), dtype=np.float64)


def full(n: object, value: object) -> Any:
    """A series of n copies of value: bool array if value is a bool, else float64."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 0 <= int(n) <= MAX_FULL:
        raise ValueError(f"ta.full: n must be an int between 0 and {MAX_FULL}, got {n!r}")
    size = int(n)
    if isinstance(value, bool | np.bool_):
        return np.full(size, bool(value), dtype=np.bool_)
    return np.full(size, float(_num(value, "full")), dtype=np.float64)


# -- rolling windows (each output row ends at its own bar) ---------------------------------------


def _rolling(a: F64, n: int, reduce: Callable[[F64], F64]) -> F64:
    out = np.full(a.shape[0], np.nan)
    if a.shape[0] >= n:
        out[n - 1 :] = reduce(sliding_window_view(a, n))
    return out


def sma(x: object, n: object) -> F64:
    """Simple moving average of the last n bars; NaN for the first n-1 bars."""
    p = _period(n, "sma")
    return _rolling(_series(x, "sma"), p, lambda w: w.mean(axis=1))


def rolling_sum(x: object, n: object) -> F64:
    """Sum of the last n bars; NaN for the first n-1 bars."""
    p = _period(n, "rolling_sum")
    return _rolling(_series(x, "rolling_sum"), p, lambda w: w.sum(axis=1))


def highest(x: object, n: object) -> F64:
    """Highest value of the last n bars (bar t included); NaN for the first n-1 bars."""
    p = _period(n, "highest")
    return _rolling(_series(x, "highest"), p, lambda w: w.max(axis=1))


def lowest(x: object, n: object) -> F64:
    """Lowest value of the last n bars (bar t included); NaN for the first n-1 bars."""
    p = _period(n, "lowest")
    return _rolling(_series(x, "lowest"), p, lambda w: w.min(axis=1))


def stdev(x: object, n: object, ddof: object = 0) -> F64:
    """Rolling standard deviation of the last n bars (population by default); NaN warm-up n-1."""
    p = _period(n, "stdev")
    d = _period(ddof, "stdev", "ddof", minimum=0)
    if d >= p:
        raise ValueError(f"ta.stdev: ddof ({d}) must be smaller than n ({p})")
    return _rolling(_series(x, "stdev"), p, lambda w: w.std(axis=1, ddof=d))


def wma(x: object, n: object) -> F64:
    """Linearly weighted moving average (weight n on bar t ... 1 on bar t-n+1); warm-up n-1."""
    p = _period(n, "wma")
    w = np.arange(1.0, p + 1.0)
    # Elementwise product then a row reduction, not `@`: BLAS blocks rows differently near the
    # end of an array, which would make a prefix differ from the full run in the last bits.
    return _rolling(_series(x, "wma"), p, lambda v: (v * w).sum(axis=1) / w.sum())


def zscore(x: object, n: object) -> F64:
    """(x - sma(x, n)) / stdev(x, n); NaN during warm-up (n-1 bars) and where stdev is 0."""
    a = _series(x, "zscore")
    p = _period(n, "zscore")
    sd = stdev(a, p)
    with np.errstate(all="ignore"):
        z = (a - sma(a, p)) / sd
    return np.where(sd > 0.0, z, np.nan)


# -- recursive smoothers (forward loops: causal by construction) ---------------------------------


def _smooth(a: F64, n: int, alpha: float) -> F64:
    """EMA-style recursion seeded with the SMA of the first run of n consecutive valid values.

    Before the seed: NaN. After it: NaN inputs give NaN outputs and leave the state untouched.
    """
    vals = a.tolist()
    out = [math.nan] * len(vals)
    state: float | None = None
    run, total = 0, 0.0
    for i, v in enumerate(vals):
        if v != v:  # NaN
            run, total = 0, 0.0
            continue
        if state is None:
            run += 1
            total += v
            if run == n:
                state = total / n
                out[i] = state
        else:
            state += alpha * (v - state)
            out[i] = state
    return np.asarray(out, dtype=np.float64)


def ema(x: object, n: object) -> F64:
    """Exponential moving average, alpha = 2/(n+1), seeded with an SMA; first value at bar n-1."""
    p = _period(n, "ema")
    return _smooth(_series(x, "ema"), p, 2.0 / (p + 1.0))


def rma(x: object, n: object) -> F64:
    """Wilder's moving average, alpha = 1/n, seeded with an SMA; first value at bar n-1."""
    p = _period(n, "rma")
    return _smooth(_series(x, "rma"), p, 1.0 / p)


def rsi(x: object, n: object = 14) -> F64:
    """Wilder's RSI in [0, 100]; first value at bar n. 100 when there are no losses, 50 when flat."""
    p = _period(n, "rsi")
    d = diff(_series(x, "rsi"), 1)
    gain = np.where(np.isnan(d), np.nan, np.maximum(d, 0.0))
    loss = np.where(np.isnan(d), np.nan, np.maximum(-d, 0.0))
    ag, al = _smooth(gain, p, 1.0 / p), _smooth(loss, p, 1.0 / p)
    with np.errstate(all="ignore"):
        r = 100.0 - 100.0 / (1.0 + ag / al)
    r = np.where(al == 0.0, np.where(ag > 0.0, 100.0, 50.0), r)
    return np.where(np.isnan(ag) | np.isnan(al), np.nan, r)


def true_range(high: object, low: object, close: object) -> F64:
    """max(high-low, |high-prev close|, |low-prev close|); bar 0 (no previous close) is high-low."""
    h, lo, c = _series(high, "true_range", "high"), _series(low, "true_range", "low"), _series(
        close, "true_range", "close"
    )
    if not h.shape == lo.shape == c.shape:
        raise ValueError("ta.true_range: high, low and close must have the same length")
    pc = shift(c, 1)
    # fmax ignores the NaN previous close at bar 0, leaving high-low there.
    return np.fmax(h - lo, np.fmax(np.abs(h - pc), np.abs(lo - pc)))


def atr(high: object, low: object, close: object, n: object = 14) -> F64:
    """Average true range, Wilder-smoothed; first value at bar n-1 (mean of the first n TRs)."""
    p = _period(n, "atr")
    return _smooth(true_range(high, low, close), p, 1.0 / p)


def macd(x: object, fast: object = 12, slow: object = 26, signal: object = 9) -> tuple[F64, F64, F64]:
    """(macd, signal, histogram): ema(fast)-ema(slow), its ema(signal), and their difference.

    macd starts at bar slow-1, signal and histogram at bar slow+signal-2.
    """
    f, s = _period(fast, "macd", "fast"), _period(slow, "macd", "slow")
    g = _period(signal, "macd", "signal")
    if f >= s:
        raise ValueError(f"ta.macd: fast ({f}) must be smaller than slow ({s})")
    a = _series(x, "macd")
    line = ema(a, f) - ema(a, s)
    sig = ema(line, g)
    return line, sig, line - sig


def bbands(x: object, n: object = 20, k: object = 2.0) -> tuple[F64, F64, F64]:
    """Bollinger bands (upper, middle, lower) = sma ± k·stdev (population); warm-up n-1 bars."""
    p = _period(n, "bbands")
    kk = float(_num(k, "bbands"))
    a = _series(x, "bbands")
    mid, sd = sma(a, p), stdev(a, p)
    return mid + kk * sd, mid, mid - kk * sd


# -- shifts and comparisons -----------------------------------------------------------------------


def shift(x: object, n: object = 1) -> Any:
    """Value n >= 0 bars ago. Float series get NaN for the first n bars, bool series get False.

    A negative n would read the future, so it is an error.
    """
    if isinstance(n, int | np.integer) and not isinstance(n, bool) and int(n) < 0:
        raise ValueError("ta.shift: n must be >= 0; a negative shift reads future bars")
    k = _period(n, "shift", minimum=0)
    raw = np.asarray(x)
    if raw.dtype == np.bool_ and raw.ndim == 1:
        b = np.zeros(raw.shape[0], dtype=np.bool_)
        if k < raw.shape[0]:
            b[k:] = raw[: raw.shape[0] - k]
        return b
    a = _series(x, "shift")
    out = np.full(a.shape[0], np.nan)
    if k < a.shape[0]:
        out[k:] = a[: a.shape[0] - k]
    return out


def diff(x: object, n: object = 1) -> F64:
    """x[t] - x[t-n]; NaN for the first n bars."""
    k = _period(n, "diff")
    a = _series(x, "diff")
    return a - shift(a, k)


def roc(x: object, n: object = 1) -> F64:
    """Fractional rate of change x[t]/x[t-n] - 1 (0.05 = +5%); NaN for the first n bars."""
    k = _period(n, "roc")
    a = _series(x, "roc")
    prev = shift(a, k)
    with np.errstate(all="ignore"):
        r = a / prev - 1.0
    return np.where(prev == 0.0, np.nan, r)


def ffill(x: object) -> F64:
    """Carry the last valid value forward over NaN (leading NaN stay NaN)."""
    a = _series(x, "ffill")
    idx = np.where(~np.isnan(a), np.arange(a.shape[0]), 0)
    np.maximum.accumulate(idx, out=idx)  # running max: index of the latest valid bar so far
    return a[idx] if a.shape[0] else a.copy()


def _pair(a: object, b: object, fn: str) -> tuple[F64, F64]:
    x, y = _num(a, fn), _num(b, fn)
    if x.ndim > 1 or y.ndim > 1 or (x.ndim == 0 and y.ndim == 0):
        raise ValueError(f"ta.{fn}: needs a 1-D series and a series or a number")
    if x.ndim == 1 and y.ndim == 1 and x.shape != y.shape:
        raise ValueError(f"ta.{fn}: series lengths differ ({x.shape[0]} vs {y.shape[0]})")
    x, y = np.broadcast_arrays(x, y)
    return x, y


def crossover(a: object, b: object) -> BoolArr:
    """True on bars where a moves from <= b to > b (b may be a number). False at bar 0 and on NaN."""
    x, y = _pair(a, b, "crossover")
    return np.asarray((x > y) & (shift(x, 1) <= shift(y, 1)), dtype=np.bool_)


def crossunder(a: object, b: object) -> BoolArr:
    """True on bars where a moves from >= b to < b (b may be a number). False at bar 0 and on NaN."""
    x, y = _pair(a, b, "crossunder")
    return np.asarray((x < y) & (shift(x, 1) >= shift(y, 1)), dtype=np.bool_)


# -- elementwise math (NaN in, NaN out; no warnings) ---------------------------------------------


def _unary(fn: str, op: Callable[[F64], Any]) -> Callable[[object], Any]:
    def apply(x: object) -> Any:
        with np.errstate(all="ignore"):
            return op(_num(x, fn))

    apply.__name__ = fn
    apply.__doc__ = f"Elementwise {fn} of a number or series (float64)."
    return apply


def minimum(a: object, b: object) -> Any:
    """Elementwise minimum; NaN if either side is NaN."""
    return np.minimum(_num(a, "minimum"), _num(b, "minimum"))


def maximum(a: object, b: object) -> Any:
    """Elementwise maximum; NaN if either side is NaN."""
    return np.maximum(_num(a, "maximum"), _num(b, "maximum"))


def where(cond: object, a: object, b: object) -> Any:
    """a where cond is True else b; bool result if a and b are both bool, else float64."""
    c = as_bool(cond)
    if _is_bool(a) and _is_bool(b):
        return np.where(c, np.asarray(a, dtype=np.bool_), np.asarray(b, dtype=np.bool_))
    return np.where(c, _num(a, "where"), _num(b, "where"))


def clip(x: object, lo: object, hi: object) -> Any:
    """x limited to [lo, hi]; NaN stays NaN."""
    return np.clip(_num(x, "clip"), _num(lo, "clip"), _num(hi, "clip"))


def nan_to_num(x: object, value: object = 0.0) -> Any:
    """x with NaN and ±inf replaced by value."""
    a = _num(x, "nan_to_num")
    return np.where(np.isfinite(a), a, float(_num(value, "nan_to_num")))


def isnan(x: object) -> Any:
    """Elementwise NaN test (bool)."""
    return np.isnan(_num(x, "isnan"))


def isfinite(x: object) -> Any:
    """Elementwise finite test (bool): False for NaN and ±inf."""
    return np.isfinite(_num(x, "isfinite"))


def logical_and(a: object, b: object) -> BoolArr:
    """Elementwise AND of two conditions (numbers: non-zero and not NaN is True)."""
    return np.logical_and(as_bool(a), as_bool(b))


def logical_or(a: object, b: object) -> BoolArr:
    """Elementwise OR of two conditions."""
    return np.logical_or(as_bool(a), as_bool(b))


def logical_not(a: object) -> BoolArr:
    """Elementwise NOT of a condition."""
    return np.logical_not(as_bool(a))


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
        # elementwise math and constructors
        "abs": _unary("abs", np.abs),
        "log": _unary("log", np.log),
        "exp": _unary("exp", np.exp),
        "sqrt": _unary("sqrt", np.sqrt),
        "sign": _unary("sign", np.sign),
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
