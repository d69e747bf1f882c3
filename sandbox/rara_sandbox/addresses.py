"""What keeps heap addresses out of a strategy's reach: text only of data, no hash order.

The text of a function, the candle facade, `ta`, or a list or object array holding one, carries
its heap address (``<function f at 0x7f...>``); so does the iteration order of a set of them
(hash order is address order for most objects). A strategy that turned either into signals would
give different signals in every process. The restricted runtime (`restricted`) routes every way
it knows to such text or order through here: ``str()``, ``print()``, ``%``-formatting, ``astype``
and the set-like dict views. What is left is caught by the gate's determinism check (the same
signals from a second process whose heap layout was randomised, `heap`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np


class SandboxViolation(Exception):
    """Restricted code tried something the runtime refuses (attribute walk, write, ...)."""


_SCALARS = (str, bytes, int, float, bool, type(None))
_NUMERIC_KINDS = frozenset("biufc")


def is_data(obj: object) -> bool:
    """Whether `obj` is plain data all the way down: numbers, strings, bytes, None, numpy scalars
    and arrays of those, and lists/tuples/dicts of data. Their text is the same in every process;
    the text of anything else (a function, the candle facade, `ta`, an object array holding one)
    carries a heap address. Iterative, cycle-safe (a list holding itself is data)."""
    stack, seen = [obj], set()
    while stack:
        o = stack.pop()
        if isinstance(o, _SCALARS):
            continue
        if isinstance(o, np.generic):
            if o.dtype.kind in "OV":
                return False
            continue
        if id(o) in seen:
            continue
        if isinstance(o, np.ndarray):
            if o.dtype.kind == "V":
                return False
            if o.dtype.kind == "O":
                seen.add(id(o))
                stack.extend(o.ravel().tolist())
            continue
        if type(o) is list or type(o) is tuple:
            seen.add(id(o))
            stack.extend(o)
        elif type(o) is dict:
            seen.add(id(o))
            stack.extend(o.keys())
            stack.extend(o.values())
        else:
            return False
    return True


# Text is bounded as well as data-only: a width or precision of 10**9 in a tiny format would build
# a gigabyte string. Widths and precisions above this, and `*` (taken from the arguments), are
# refused; lint reports the literal ones before anything runs, with the same words.
MAX_FORMAT_WIDTH = 1000
_MAX_SPEC_CHARS = 32
_FORMAT_SPEC = re.compile(
    r"(?:[^{}]?[<>=^])?[-+ ]?z?#?0?(?P<width>\d+)?[,_]?(?:\.(?P<precision>\d+))?"
    r"[bcdeEfFgGnosxX%]?",
    re.DOTALL,
)
_PERCENT_SPEC = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[#0\- +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d*))?[hlL]?"
)


def _too_wide(*numbers: str | None) -> bool:
    return any(n and (len(n) > 4 or int(n) > MAX_FORMAT_WIDTH) for n in numbers)


def format_spec_problem(spec: str) -> str | None:
    """Why an f-string format spec (the part after ``:``) is refused, or None. Only the standard
    mini-language (fill, align, sign, width, grouping, precision, type), with bounded numbers."""
    match = _FORMAT_SPEC.fullmatch(spec) if len(spec) <= _MAX_SPEC_CHARS else None
    if match is None:
        return "not a standard format spec (f-strings take specs like '.2f', '>10', ',d', '.1%')"
    if _too_wide(match["width"], match["precision"]):
        return f"width and precision are limited to {MAX_FORMAT_WIDTH} in f-strings"
    return None


def percent_format_problem(template: str | bytes) -> str | None:
    """Why a ``%``-format template is refused, or None: widths or precisions taken from the
    arguments (``*``) or above the limit. Other mistakes are Python's own errors."""
    text = template.decode("latin-1") if isinstance(template, bytes) else template
    for match in _PERCENT_SPEC.finditer(text.replace("%%", "")):
        if "*" in (match["width"] or "") + (match["precision"] or ""):
            return "'*' widths are not available in %-formatting; write the number in the format"
        if _too_wide(match["width"], match["precision"]):
            return f"width and precision are limited to {MAX_FORMAT_WIDTH} in %-formatting"
    return None


def guarded_format(value: object, conversion: int, spec: str) -> str:
    """One ``{value!conversion:spec}`` field of an f-string (the policy rewrites each to this):
    data only, like `data_str` (the text of a function or the candle facade holds its address),
    and a standard, bounded spec. Formatting data runs only the builtin and numpy ``__format__``
    of numbers, strings and containers: no attribute lookups (only ``str.format`` walks
    attributes, and strategies do not get it)."""
    if not is_data(value):
        raise SandboxViolation(
            f"f-strings format data only (numbers, strings, arrays and lists/dicts of them), "
            f"not {type(value).__name__}"
        )
    if type(spec) is not str:
        raise SandboxViolation("f-string format specs must be text")
    problem = format_spec_problem(spec)
    if problem is not None:
        raise SandboxViolation(f"format spec {spec[:_MAX_SPEC_CHARS]!r}: {problem}")
    if conversion == ord("s"):
        value = str(value)
    elif conversion == ord("r"):
        value = repr(value)
    elif conversion == ord("a"):
        value = ascii(value)
    return format(value, spec)


def _numeric(v: object) -> bool:
    if isinstance(v, np.ndarray | np.generic):
        return v.dtype.kind in _NUMERIC_KINDS
    return type(v) in (int, float, bool)


def guarded_mod(x: object, y: object) -> Any:
    """``x % y`` for strategies: numbers (and numeric arrays) as usual; string formatting only of
    data (`is_data`), since ``"%s" % f`` or ``"%r" % [f]`` writes out f's address; nothing
    that makes numpy format elements of an object array one by one."""
    if isinstance(x, str | bytes) or isinstance(y, str | bytes):
        if not (is_data(x) and is_data(y)):
            raise SandboxViolation("%-formatting is available for data only (numbers, strings)")
        problem = percent_format_problem(x) if isinstance(x, str | bytes) else None
        if problem is not None:
            raise SandboxViolation(problem)
        return x % y  # type: ignore[operator]
    arrays = isinstance(x, np.ndarray | np.generic) or isinstance(y, np.ndarray | np.generic)
    if arrays and not (_numeric(x) and _numeric(y)):
        raise SandboxViolation("% on arrays is available for numbers only")
    return x % y  # type: ignore[operator]


def listed(view: Callable[[], Any]) -> Callable[[], list[Any]]:
    # dict views are set-like: `d.keys() | e.keys()` builds a set, which iterates in hash
    # (for most objects: address) order. A list has the same contents in insertion order.
    def listed() -> list[Any]:
        return list(view())

    return listed


def guarded_astype(arr: np.ndarray[Any, Any]) -> Callable[..., Any]:
    """``arr.astype``, refusing what would turn objects into text (their reprs carry heap
    addresses) and raw bytes (void dtypes)."""

    def astype(dtype: Any, *args: Any, **kwargs: Any) -> Any:
        target = np.dtype(dtype)
        if target.kind == "V" or (arr.dtype.kind == "O" and target.kind in "USMm"):
            raise SandboxViolation(
                f"astype from {arr.dtype} to {target} is not available to strategies: "
                "the text of an object holds its memory address"
            )
        return arr.astype(target, *args, **kwargs)

    return astype


def data_str(obj: object = "", *decode: object) -> str:
    """`str` for data only (`is_data`, all the way down). The str() of a function, method,
    generator or type, or of a list or object array holding one, holds a heap address: signals
    built from it would differ run to run and leak allocator state. Decoding (str(b, encoding))
    is refused too: a codec lookup can import modules."""
    if decode:
        raise SandboxViolation("str() with an encoding is not available in strategies")
    if not is_data(obj):
        raise SandboxViolation(
            f"str() of {type(obj).__name__} objects (or containers holding them) is not available"
        )
    return str(obj)
