"""The restricted runtime: RestrictedPython compilation plus our guards and globals.

This is a lint-grade layer, not the security boundary (that is the OS process or container around
it), but it is written to be tight on its own:

* default deny attribute access: `guarded_getattr` allows a fixed set of names per *exact* type
  (arrays, the candle facade, `ta`, list/dict/str methods) and nothing on anything else, so
  functions, types, generators, exceptions and numpy scalars expose no attributes at all;
* writes only into plain lists/dicts and into writable arrays the strategy made itself
  (item assignment only); attribute assignment is refused everywhere;
* no usable ``__import__`` (only numpy's C code may import), no classes (``__build_class__``
  absent), no getattr/eval/open/type ...;
* ``print`` goes to a bounded buffer, never to stdout (which carries the wire protocol);
* ``x += y`` is evaluated out of place, so augmented assignment never mutates shared objects;
* nothing can read a heap address: the text of a function, a module facade or a container holding
  one carries its address, so ``str()``, ``print()`` and ``%``-formatting accept data only
  (`is_data`), ``astype`` refuses to turn objects into text, and nothing iterates in hash order
  (no set displays, ``dict.keys()``/``items()`` are lists, not set-like views). Signals that
  depended on an address would differ run to run; the gate's determinism check backs this up.
"""

from __future__ import annotations

import ast
import importlib
import operator
import threading
from collections.abc import Callable, Mapping
from types import CodeType, MappingProxyType, ModuleType
from typing import Any

import numpy as np
from RestrictedPython.compile import compile_restricted_exec
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.transformer import RestrictingNodeTransformer

from rara_sandbox import ta
from rara_sandbox.addresses import SandboxViolation as SandboxViolation  # re-exported
from rara_sandbox.addresses import (
    data_str,
    guarded_astype,
    guarded_format,
    guarded_mod,
    is_data,
    listed,
)
from rara_sandbox.candles import ATTRIBUTES as CANDLE_ATTRIBUTES
from rara_sandbox.candles import Candles

STRATEGY_FILENAME = "<strategy>"
MAX_RANGE = 10_000_000
DEFAULT_PRINT_LIMIT = 16_384


class CompileFailed(Exception):
    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


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


class PrintBuffer:
    """Shared, bounded sink for everything a strategy prints, across all its calls."""

    def __init__(self, limit: int = DEFAULT_PRINT_LIMIT) -> None:
        self.limit = limit
        self._parts: list[str] = []
        self._size = 0
        self.truncated = False

    def write(self, text: str) -> None:
        room = self.limit - self._size
        if len(text) > room:
            self.truncated = True
            text = text[: max(room, 0)]
        if text:
            self._parts.append(text)
            self._size += len(text)

    @property
    def text(self) -> str:
        return "".join(self._parts)


class _PrintCollector:
    """RestrictedPython rewrites ``print(...)`` to ``_print._call_print(...)``; this is _print."""

    def __init__(self, buffer: PrintBuffer) -> None:
        self._buffer = buffer

    def _call_print(self, *objects: object, sep: object = " ", end: object = "\n") -> None:
        s = sep if isinstance(sep, str) else " "
        e = end if isinstance(end, str) else "\n"
        if not all(is_data(o) for o in objects):
            raise SandboxViolation("print() is available for data only (numbers, strings, arrays)")
        if self._buffer.truncated:
            return
        self._buffer.write(s.join(str(o) for o in objects) + e)

    def __call__(self) -> str:
        return self._buffer.text


def extension_import(
    name: str,
    globals: object = None,
    locals: object = None,
    fromlist: object = None,
    level: int = 0,
) -> ModuleType:
    """The ``__import__`` in a strategy's builtins, for numpy's C code only.

    CPython's PyImport_Import (which numpy calls lazily, e.g. for ``numpy._core._methods`` on the
    first ``arr.max()``) looks ``__import__`` up in the builtins of the *calling frame*: the
    strategy's. Without one, ``arr.max()`` fails with KeyError. Strategy code cannot reach this
    function: the name starts with "_" (refused at compile time) and an ``import`` statement
    passes ``fromlist`` None or a tuple of names, whereas PyImport_Import passes an empty list.
    The module goes back to numpy's C code, never to the strategy.
    """
    if (
        type(fromlist) is list
        and not fromlist
        and level == 0
        and type(name) is str
        and (name == "numpy" or name.startswith("numpy."))
    ):
        return importlib.import_module(name)
    raise ImportError("imports are not available in strategies")


SAFE_BUILTINS: Mapping[str, object] = MappingProxyType(
    {
        "None": None,
        "True": True,
        "False": False,
        "abs": abs,
        "all": all,
        "any": any,
        "bool": bool,
        "dict": dict,
        "enumerate": enumerate,
        "float": float,
        "int": int,
        "len": len,
        "list": list,
        "max": max,
        "min": min,
        "range": bounded_range,
        "reversed": reversed,
        "round": round,
        "sorted": sorted,
        "str": data_str,
        "sum": sum,
        "tuple": tuple,
        "zip": zip,
        "__import__": extension_import,
    }
)
# Names a strategy may read besides its own: the builtins above, `ta`, and print.
API_NAMES = frozenset(k for k in SAFE_BUILTINS if not k.startswith("_")) | {"ta", "print"}


class StrategyPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus ours: ``a % b`` becomes ``_mod_(a, b)`` (`guarded_mod`),
    each f-string field ``{v!c:spec}`` becomes ``{_format_(v, c, spec)}`` (`guarded_format`:
    data only, a bounded standard spec), ``x: T = v`` becomes ``x = v`` (the annotation is never
    evaluated), and set displays and comprehensions are refused (they iterate in hash order,
    which for most objects is address order)."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        node = self.node_contents_visit(node)
        if not isinstance(node.op, ast.Mod):
            return node
        call = ast.Call(
            func=ast.Name("_mod_", ast.Load()), args=[node.left, node.right], keywords=[]
        )
        return ast.fix_missing_locations(ast.copy_location(call, node))

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        node = self.node_contents_visit(node)  # the value and a nested spec go through guards
        spec = node.format_spec if node.format_spec is not None else ast.Constant("")
        call = ast.Call(
            func=ast.Name("_format_", ast.Load()),
            args=[node.value, ast.Constant(node.conversion), spec],
            keywords=[],
        )
        field = ast.FormattedValue(value=call, conversion=-1, format_spec=None)
        return ast.fix_missing_locations(ast.copy_location(field, node))

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is None:
            self.error(node, "an annotation without a value does nothing; write x: float = 0.0")
            return node
        plain = ast.Assign(targets=[node.target], value=node.value)
        visited: ast.AST = self.visit(ast.fix_missing_locations(ast.copy_location(plain, node)))
        return visited

    def visit_Set(self, node: ast.Set) -> ast.AST:
        self.error(node, "set displays are not available; use a list or a dict")
        return node

    def visit_SetComp(self, node: ast.SetComp) -> ast.AST:
        self.error(node, "set comprehensions are not available; use a list or a dict")
        return node


# CPython 3.11 converts ASTs between C and Python with a recursion-depth counter that is not
# thread-safe: two threads parsing or compiling at once (the in-process sandbox evaluates a batch
# in threads) can fail with "SystemError: AST constructor recursion depth mismatch". Every AST
# step of lint and compile holds this lock; a sandbox child runs them once, so it costs nothing.
AST_LOCK = threading.Lock()


def compile_strategy(source: str) -> CodeType:
    """Compile with our policy; raise CompileFailed with the first error's line."""
    with AST_LOCK:
        result = compile_restricted_exec(source, filename=STRATEGY_FILENAME, policy=StrategyPolicy)
    if result.errors or result.code is None:
        first = result.errors[0] if result.errors else "compilation produced no code"
        line = None
        if first.startswith("Line "):
            head = first[5:].split(":", 1)[0]
            line = int(head) if head.isdigit() else None
        raise CompileFailed("; ".join(result.errors) or first, line)
    return result.code


def new_globals(printer: PrintBuffer) -> dict[str, object]:
    """A fresh module namespace: only guards, safe builtins and the `ta` facade."""
    return {
        "__builtins__": dict(SAFE_BUILTINS),
        "__name__": "strategy",
        "_getattr_": guarded_getattr,
        "_getitem_": guarded_getitem,
        "_write_": guarded_write,
        "_getiter_": iter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_inplacevar_": inplace_var,
        "_mod_": guarded_mod,
        "_format_": guarded_format,
        "_print_": lambda _getattr=None: _PrintCollector(printer),
        "ta": TA,
    }


def exec_module(code: CodeType, printer: PrintBuffer) -> dict[str, object]:
    """Run the module body in a fresh namespace and return it.

    Called once per window on purpose: module-level state (a dict used as a cache, say) cannot
    carry information from a longer window into a shorter one and defeat the look-ahead check.
    """
    namespace = new_globals(printer)
    exec(code, namespace)
    return namespace
