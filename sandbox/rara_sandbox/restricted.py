"""The restricted runtime: RestrictedPython compiling with our policy, and a strategy's globals.

This is a lint-grade layer, not the security boundary (that is the OS process or container around
it), but it is written to be tight on its own. This module holds the compile policy, the safe
builtins and the namespace; the guards it binds live in `guards`, the print buffer in `printing`
and the address rules in `addresses`. Together:

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
import threading
from collections.abc import Mapping
from types import CodeType, MappingProxyType, ModuleType

from RestrictedPython.compile import compile_restricted_exec
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.transformer import RestrictingNodeTransformer

from rara_sandbox.addresses import data_str, guarded_format, guarded_mod
from rara_sandbox.guards import (
    TA,
    bounded_range,
    guarded_getattr,
    guarded_getitem,
    guarded_write,
    inplace_var,
)
from rara_sandbox.printing import PrintBuffer, PrintCollector

STRATEGY_FILENAME = "<strategy>"


class CompileFailed(Exception):
    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


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
        "_print_": lambda _getattr=None: PrintCollector(printer),
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
