"""The runtime guards of restricted code: what it may read, index, write and compute.

RestrictedPython rewrites attribute reads, subscripts, item writes and augmented assignment into
calls of ``_getattr_``, ``_getitem_``, ``_write_`` and ``_inplacevar_``; `restricted` binds those
names to the guards here. Attribute access is default deny: a fixed set of names per *exact* type
(`ALLOWED_ATTRIBUTES`: arrays, the candle facade, `ta`, list/dict/str methods) and nothing on
anything else. Writes go only into plain lists/dicts and into writable arrays the strategy made
itself; ``x += y`` is evaluated out of place; ``range`` is bounded. `TA` is what ``ta`` is
inside a strategy: a read-only facade, never the module. `lint` reads the same allow-lists
(`ALL_ATTRIBUTE_NAMES`), so the friendly layer and the runtime agree.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from rara_sandbox import ta
from rara_sandbox.addresses import SandboxViolation, guarded_astype, guarded_mod, listed
from rara_sandbox.candles import ATTRIBUTES as CANDLE_ATTRIBUTES
from rara_sandbox.candles import Candles

MAX_RANGE = 10_000_000


class TaNamespace:
    """What ``ta`` is inside a strategy: an immutable bag of functions, never a module."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return ta.API[name]
        except KeyError:
            raise AttributeError(f"ta has no attribute {name!r}") from None

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("ta is read-only")

    def __repr__(self) -> str:
        return "<ta>"


TA = TaNamespace()

# Attribute whitelist per exact type. ndarray: reductions and copies only; nothing that reaches
# memory (ctypes, data, base, __array_interface__), files (tofile, dump), or mutates in place
# (setflags, resize, fill, put, sort, itemset). `astype` is allowed: the worst it can build is an
# object array of things the strategy already had.
NDARRAY_ATTRIBUTES = frozenset(
    {
        "shape",
        "size",
        "ndim",
        "all",
        "any",
        "argmax",
        "argmin",
        "astype",
        "copy",
        "cumsum",
        "cumprod",
        "max",
        "mean",
        "min",
        "std",
        "sum",
        "var",
        "tolist",
        "item",
    }
)
LIST_ATTRIBUTES = frozenset(
    {
        "append",
        "extend",
        "insert",
        "pop",
        "remove",
        "index",
        "count",
        "reverse",
        "sort",
        "copy",
        "clear",
    }
)
DICT_ATTRIBUTES = frozenset(
    {"get", "keys", "values", "items", "pop", "setdefault", "update", "copy", "clear"}
)
# No format/format_map: str.format reaches attributes of its arguments without our getattr.
STR_ATTRIBUTES = frozenset(
    {
        "lower",
        "upper",
        "strip",
        "lstrip",
        "rstrip",
        "split",
        "join",
        "startswith",
        "endswith",
        "replace",
        "find",
        "isdigit",
    }
)
ALLOWED_ATTRIBUTES: Mapping[type, frozenset[str]] = MappingProxyType(
    {
        np.ndarray: NDARRAY_ATTRIBUTES,
        Candles: CANDLE_ATTRIBUTES,
        TaNamespace: frozenset(ta.API),
        list: LIST_ATTRIBUTES,
        dict: DICT_ATTRIBUTES,
        str: STR_ATTRIBUTES,
        tuple: frozenset({"count", "index"}),
        # Indexing an array yields numpy scalars; `.item()` (to a Python number) is all they need.
        np.float64: frozenset({"item"}),
        np.int64: frozenset({"item"}),
        np.bool_: frozenset({"item"}),
    }
)
ALL_ATTRIBUTE_NAMES = frozenset().union(*ALLOWED_ATTRIBUTES.values())


# Array methods that take an `out` array, and how many positional arguments come before it. A
# strategy may not pass `out`: numpy 1.24 (the container image's) lets ufunc.accumulate (cumsum,
# cumprod) write into a read-only array, which would let a strategy rewrite the candles that
# later windows and the causality proof see.
_OUT_AFTER: Mapping[str, int] = MappingProxyType(
    {
        "all": 1,
        "any": 1,
        "argmax": 1,
        "argmin": 1,
        "max": 1,
        "min": 1,
        "cumsum": 2,
        "cumprod": 2,
        "mean": 2,
        "std": 2,
        "sum": 2,
        "var": 2,
    }
)


def _without_out(method: Callable[..., Any], name: str) -> Callable[..., Any]:
    positional = _OUT_AFTER[name]

    def call(*args: Any, **kwargs: Any) -> Any:
        if "out" in kwargs or len(args) > positional:
            raise SandboxViolation(f"{name}(out=...) is not available to strategies")
        return method(*args, **kwargs)

    return call


def guarded_getattr(obj: object, name: object) -> Any:
    if type(name) is not str:
        raise SandboxViolation("attribute names must be strings")
    allowed = ALLOWED_ATTRIBUTES.get(type(obj))
    if allowed is None or name not in allowed or name.startswith("_"):
        raise SandboxViolation(
            f"attribute {name!r} of {type(obj).__name__} is not available to strategies"
        )
    if name == "astype" and type(obj) is np.ndarray:
        return guarded_astype(obj)
    if name in ("keys", "items") and type(obj) is dict:
        return listed(getattr(obj, name))
    if name in _OUT_AFTER and type(obj) is np.ndarray:
        return _without_out(getattr(obj, name), name)
    return getattr(obj, name)


_SUBSCRIPTABLE = (list, tuple, dict, str, range, np.ndarray)


def guarded_getitem(obj: object, key: object) -> Any:
    if type(obj) not in _SUBSCRIPTABLE:
        raise SandboxViolation(f"cannot index {type(obj).__name__} objects")
    return obj[key]  # type: ignore[index]


class _ArrayItemWriter:
    """What `_write_` hands back for an array: item assignment only, and only if writable."""

    __slots__ = ("_arr",)
    _arr: np.ndarray[Any, Any]

    def __init__(self, arr: np.ndarray[Any, Any]) -> None:
        object.__setattr__(self, "_arr", arr)

    def __setitem__(self, key: Any, value: Any) -> None:
        if not self._arr.flags.writeable:
            raise SandboxViolation("this array is read-only (candles are never writable)")
        self._arr[key] = value

    def __setattr__(self, name: str, value: object) -> None:
        raise SandboxViolation("cannot set attributes on arrays")

    def __delattr__(self, name: str) -> None:
        raise SandboxViolation("cannot delete attributes on arrays")


def guarded_write(obj: object) -> Any:
    t = type(obj)
    if t is list or t is dict:
        return obj  # attribute assignment on these fails natively; items are the strategy's own
    if t is np.ndarray:
        return _ArrayItemWriter(obj)  # type: ignore[arg-type]
    raise SandboxViolation(f"cannot modify {t.__name__} objects")


_INPLACE: Mapping[str, Callable[[Any, Any], Any]] = MappingProxyType(
    {
        "+=": operator.add,
        "-=": operator.sub,
        "*=": operator.mul,
        "/=": operator.truediv,
        "//=": operator.floordiv,
        "%=": lambda x, y: guarded_mod(x, y),
        "**=": operator.pow,
        "&=": operator.and_,
        "|=": operator.or_,
        "^=": operator.xor,
        "<<=": operator.lshift,
        ">>=": operator.rshift,
        "@=": operator.matmul,
    }
)


def inplace_var(op: str, x: object, y: object) -> Any:
    # Out of place on purpose: `arr += 1` must not write into an array someone else holds.
    fn = _INPLACE.get(op)
    if fn is None:
        raise SandboxViolation(f"operator {op} is not supported")
    return fn(x, y)


def bounded_range(*args: int) -> range:
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise SandboxViolation(f"range of {len(r)} elements exceeds the limit of {MAX_RANGE}")
    return r
