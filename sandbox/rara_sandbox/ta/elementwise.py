"""Elementwise math for strategies (NaN in, NaN out; no warnings)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rara_sandbox.ta.core import F64, BoolArr, as_bool, is_bool, num


def unary(fn: str, op: Callable[[F64], Any]) -> Callable[[object], Any]:
    def apply(x: object) -> Any:
        with np.errstate(all="ignore"):
            return op(num(x, fn))

    apply.__name__ = fn
    apply.__doc__ = f"Elementwise {fn} of a number or series (float64)."
    return apply


def minimum(a: object, b: object) -> Any:
    """Elementwise minimum; NaN if either side is NaN."""
    return np.minimum(num(a, "minimum"), num(b, "minimum"))


def maximum(a: object, b: object) -> Any:
    """Elementwise maximum; NaN if either side is NaN."""
    return np.maximum(num(a, "maximum"), num(b, "maximum"))


def where(cond: object, a: object, b: object) -> Any:
    """a where cond is True else b; bool result if a and b are both bool, else float64."""
    c = as_bool(cond)
    if is_bool(a) and is_bool(b):
        return np.where(c, np.asarray(a, dtype=np.bool_), np.asarray(b, dtype=np.bool_))
    return np.where(c, num(a, "where"), num(b, "where"))


def clip(x: object, lo: object, hi: object) -> Any:
    """x limited to [lo, hi]; NaN stays NaN."""
    return np.clip(num(x, "clip"), num(lo, "clip"), num(hi, "clip"))


def nan_to_num(x: object, value: object = 0.0) -> Any:
    """x with NaN and ±inf replaced by value."""
    a = num(x, "nan_to_num")
    return np.where(np.isfinite(a), a, float(num(value, "nan_to_num")))


def isnan(x: object) -> Any:
    """Elementwise NaN test (bool)."""
    return np.isnan(num(x, "isnan"))


def isfinite(x: object) -> Any:
    """Elementwise finite test (bool): False for NaN and ±inf."""
    return np.isfinite(num(x, "isfinite"))


def logical_and(a: object, b: object) -> BoolArr:
    """Elementwise AND of two conditions (numbers: non-zero and not NaN is True)."""
    return np.logical_and(as_bool(a), as_bool(b))


def logical_or(a: object, b: object) -> BoolArr:
    """Elementwise OR of two conditions."""
    return np.logical_or(as_bool(a), as_bool(b))


def logical_not(a: object) -> BoolArr:
    """Elementwise NOT of a condition."""
    return np.logical_not(as_bool(a))


abs_ = unary("abs", np.abs)
log = unary("log", np.log)
exp = unary("exp", np.exp)
sqrt = unary("sqrt", np.sqrt)
sign = unary("sign", np.sign)
