"""Argument coercion shared by the `ta` modules: everything becomes float64 or bool first, so no
object array (and nothing a strategy crafted) ever reaches a numpy routine."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
BoolArr = npt.NDArray[np.bool_]
MAX_PERIOD = 100_000
MAX_FULL = 10_000_000  # ta.full(n, ...) bound: a typo should fail fast, not eat the memory limit


# -- argument coercion ----------------------------------------------------------------------------


def series(x: object, fn: str, arg: str = "x") -> F64:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"ta.{fn}: {arg} must be numeric, got {type(x).__name__}") from e
    if a.ndim != 1:
        raise ValueError(f"ta.{fn}: {arg} must be a 1-D series, got {a.ndim}-D")
    return a


def num(x: object, fn: str) -> F64:
    """Scalar or series as float64 (0-d for scalars)."""
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"ta.{fn}: expected numbers, got {type(x).__name__}") from e


def period(n: object, fn: str, arg: str = "n", minimum: int = 1) -> int:
    # bool is an int subclass; ta.sma(x, True) is a bug, not a period of 1.
    if isinstance(n, bool) or not isinstance(n, int | float | np.integer | np.floating):
        raise ValueError(f"ta.{fn}: {arg} must be an int, got {type(n).__name__}")
    if isinstance(n, float | np.floating) and not float(n).is_integer():
        raise ValueError(f"ta.{fn}: {arg} must be a whole number, got {n}")
    v = int(n)
    if not minimum <= v <= MAX_PERIOD:
        raise ValueError(f"ta.{fn}: {arg} must be between {minimum} and {MAX_PERIOD}, got {v}")
    return v


def is_bool(x: object) -> bool:
    return isinstance(x, bool | np.bool_) or (isinstance(x, np.ndarray) and x.dtype == np.bool_)


def as_bool(x: object) -> BoolArr:
    """Boolean copy: bools stay, numbers are True when non-zero and not NaN."""
    a = np.asarray(x)
    if a.dtype == np.bool_:
        return np.array(a, dtype=np.bool_)
    f = num(a, "as_bool")
    return np.asarray((f != 0.0) & ~np.isnan(f), dtype=np.bool_)


def as_float(x: object) -> F64:
    """Float64 copy (bools become 0.0/1.0)."""
    return np.array(num(x, "as_float"), dtype=np.float64)


def array(values: object) -> F64:
    """A 1-D float64 series from a list of numbers."""
    return np.array(series(values, "array", "values"), dtype=np.float64)


def full(n: object, value: object) -> Any:
    """A series of n copies of value: bool array if value is a bool, else float64."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 0 <= int(n) <= MAX_FULL:
        raise ValueError(f"ta.full: n must be an int between 0 and {MAX_FULL}, got {n!r}")
    size = int(n)
    if isinstance(value, bool | np.bool_):
        return np.full(size, bool(value), dtype=np.bool_)
    return np.full(size, float(num(value, "full")), dtype=np.float64)
