"""Static checks on a strategy's source, before anything runs (pure AST, JSON-able report).

This is the friendly layer: it tells the author (often an LLM) exactly what is wrong and where,
with "did you mean" hints. It is not the security boundary; the restricted runtime and the OS
jail enforce the same rules again on whatever gets past it.

`rara sandbox check` runs it in the host process, so its cost is bounded by construction, before
and apart from any time limit (`lint_cost`: the size and complexity limits and the bounded
hints). The report it returns is `lint_report.LintReport`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from rara_sandbox import ta
from rara_sandbox.addresses import format_spec_problem, percent_format_problem
from rara_sandbox.guards import ALL_ATTRIBUTE_NAMES
from rara_sandbox.lint_cost import Hints, complexity, source_size
from rara_sandbox.lint_report import Check, Finding, LintReport, check
from rara_sandbox.restricted import API_NAMES, AST_LOCK

REQUIRED_FUNCTIONS = {"meta": 0, "on_candles": 2}
OPTIONAL_FUNCTIONS = {"risk_levels": 2}

_FORBIDDEN_NODES: dict[type[ast.AST], str] = {
    ast.ClassDef: "class definitions are not allowed; use functions and dicts",
    ast.AsyncFunctionDef: "async functions are not allowed; strategies are synchronous",
    ast.Await: "await is not allowed; strategies are synchronous",
    ast.AsyncFor: "async for is not allowed; strategies are synchronous",
    ast.AsyncWith: "async with is not allowed; strategies are synchronous",
    ast.Global: "global is not allowed; return values instead",
    ast.Nonlocal: "nonlocal is not allowed; return values instead",
    ast.Lambda: "lambda is not allowed; define a named function",
    ast.Yield: "generators (yield) are not allowed",
    ast.YieldFrom: "generators (yield from) are not allowed",
    ast.Try: "try/except is not allowed; let errors surface",
    ast.Raise: "raise is not allowed; use assert for parameter checks",
    ast.With: "with is not allowed; there is nothing to open or close",
    ast.Match: "match is not allowed; use if/elif",
    ast.Starred: "star unpacking (*x) is not allowed; pass arguments by name or index",
    ast.Set: "set displays are not allowed (they iterate in hash order); use a list or a dict",
    ast.SetComp: "set comprehensions are not allowed (hash order); use a list or a dict",
}
if hasattr(ast, "TryStar"):  # Python 3.11+
    _FORBIDDEN_NODES[ast.TryStar] = "try/except* is not allowed; let errors surface"

_CALL_HINTS = {
    "eval": "eval() is not allowed (no string evaluation)",
    "exec": "exec() is not allowed (no string evaluation)",
    "compile": "compile() is not allowed (no string evaluation)",
    "__import__": "__import__() is not allowed; strategies import nothing",
    "getattr": "getattr() is not allowed; use plain attribute access",
    "setattr": "setattr() is not allowed",
    "delattr": "delattr() is not allowed",
    "vars": "vars() is not allowed",
    "globals": "globals() is not allowed",
    "locals": "locals() is not allowed",
    "dir": "dir() is not allowed",
    "open": "open() is not allowed (no file access)",
    "input": "input() is not allowed",
    "type": "type() is not allowed",
    "super": "super() is not allowed",
    "object": "object is not available",
    "breakpoint": "breakpoint() is not allowed",
}
_NAME_HINTS = {
    "np": "numpy is not available; use ta.<function> (e.g. ta.where, ta.abs)",
    "numpy": "numpy is not available; use ta.<function>",
    "pd": "pandas is not available; use candles.close etc. and ta.<function>",
    "pandas": "pandas is not available",
    "math": "math is not available; use ta.log, ta.sqrt, ta.exp ...",
}
# RestrictedPython rewrites every read of `printed` into a call of its print collector, so it
# is refused even as a local name.
_RESERVED_NAMES = {"printed": "'printed' is reserved by the sandbox; choose another name"}


def _line(node: ast.AST) -> int | None:
    return getattr(node, "lineno", None)


def _structure(tree: ast.Module) -> Iterator[Finding]:
    for i, stmt in enumerate(tree.body):
        if isinstance(stmt, ast.FunctionDef | ast.Assign | ast.AnnAssign | ast.Import):
            continue  # imports get their own check
        if isinstance(stmt, ast.ImportFrom):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and i == 0:
            continue  # module docstring
        yield Finding(
            _line(stmt),
            f"top level may only hold functions and constants, not {type(stmt).__name__}",
        )


def _functions(tree: ast.Module) -> Iterator[Finding]:
    defs: dict[str, list[ast.FunctionDef]] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef):
            defs.setdefault(stmt.name, []).append(stmt)
    wanted = {**REQUIRED_FUNCTIONS, **OPTIONAL_FUNCTIONS}
    for name, arity in wanted.items():
        found = defs.get(name, [])
        if not found:
            if name in REQUIRED_FUNCTIONS:
                params = "candles, params" if arity else ""
                yield Finding(None, f"missing required function: def {name}({params})")
            continue
        if len(found) > 1:
            yield Finding(_line(found[1]), f"{name} is defined {len(found)} times")
        fn = found[0]
        a = fn.args
        if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs:
            yield Finding(_line(fn), f"{name} must take plain positional parameters only")
        elif len(a.args) != arity:
            want = "no parameters" if arity == 0 else f"{arity} parameters (candles, params)"
            yield Finding(_line(fn), f"{name} must take {want}, it takes {len(a.args)}")
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            if node.decorator_list:
                yield Finding(_line(node), f"decorators are not allowed (on {node.name})")
            if node.args.vararg or node.args.kwarg:
                yield Finding(_line(node), f"*args/**kwargs are not allowed (in {node.name})")


def _imports(tree: ast.Module) -> Iterator[Finding]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield Finding(
                _line(node), "imports are not allowed; `ta` and `candles` are all there is"
            )


def _forbidden(tree: ast.Module) -> Iterator[Finding]:
    for node in ast.walk(tree):
        message = _FORBIDDEN_NODES.get(type(node))
        if message:
            yield Finding(_line(node), message)
        elif isinstance(node, ast.Call) and any(k.arg is None for k in node.keywords):
            yield Finding(_line(node), "**kwargs in calls is not allowed")


def _bound_names(tree: ast.Module) -> set[str]:
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.FunctionDef):
            bound.add(node.name)
    return bound


def _names(tree: ast.Module) -> Iterator[Finding]:
    known = API_NAMES | _bound_names(tree)
    hints = Hints(known)
    reported: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Name):
            names = [node.id]
        elif isinstance(node, ast.arg):
            names = [node.arg]
        elif isinstance(node, ast.FunctionDef):
            names = [node.name]
        for name in names:
            if name.startswith("_") and name != "_":
                yield Finding(_line(node), f"names starting with '_' are not allowed: {name!r}")
            elif name in _RESERVED_NAMES:
                yield Finding(_line(node), _RESERVED_NAMES[name])
            elif name in _CALL_HINTS and name not in known:
                # getattr, eval, open ...: the classic escape hatches get a precise message.
                yield Finding(_line(node), _CALL_HINTS[name])
            elif name in _NAME_HINTS and name not in known and name not in reported:
                # np, pd, math read without being bound: the author expected the library.
                reported.add(name)
                yield Finding(_line(node), f"unknown name {name!r}: {_NAME_HINTS[name]}")
            elif name == "ta" and not (
                isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
            ):
                yield Finding(_line(node), "'ta' is the indicator library; do not rebind it")
            elif name not in known and name not in reported:
                reported.add(name)
                yield Finding(
                    _line(node),
                    f"unknown name {name!r}: not assigned in this file and not part of the API"
                    f"{hints.nearest(name)}",
                )


def _attributes(tree: ast.Module) -> Iterator[Finding]:
    ta_hints, attribute_hints = Hints(ta.API, None), Hints(ALL_ATTRIBUTE_NAMES, None)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        attr = node.attr
        if attr.startswith("_"):
            yield Finding(_line(node), f"attribute {attr!r}: names starting with '_' are refused")
        elif not isinstance(node.ctx, ast.Load):
            yield Finding(_line(node), f"assigning attributes is not allowed (.{attr})")
        elif isinstance(node.value, ast.Name) and node.value.id == "ta":
            if attr not in ta.API:
                yield Finding(_line(node), f"ta has no function {attr!r}{ta_hints.nearest(attr)}")
        elif attr not in ALL_ATTRIBUTE_NAMES:
            yield Finding(
                _line(node),
                f"attribute {attr!r} is not available to strategies{attribute_hints.nearest(attr)}",
            )


def _formatting(tree: ast.Module) -> Iterator[Finding]:
    """Format specs written in the source: f-string specs must be standard and bounded, and
    %-templates must not take widths from the arguments. The runtime checks the same (and that
    only data is formatted) on whatever is computed while running."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FormattedValue) and isinstance(node.format_spec, ast.JoinedStr):
            parts = [p.value for p in node.format_spec.values if isinstance(p, ast.Constant)]
            literal = [p for p in parts if isinstance(p, str)]
            if len(literal) == len(node.format_spec.values):  # a spec with {fields}: runtime's
                spec = "".join(literal)
                problem = format_spec_problem(spec)
                if problem is not None:
                    yield Finding(_line(node), f"format spec {spec[:40]!r}: {problem}")
        elif (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Mod)
            and isinstance(node.left, ast.Constant)
            and isinstance(node.left.value, str | bytes)
        ):
            problem = percent_format_problem(node.left.value)
            if problem is not None:
                yield Finding(_line(node), problem)
        elif isinstance(node, ast.AnnAssign) and node.value is None:
            yield Finding(
                _line(node), "an annotation without a value does nothing; write x: float = 0.0"
            )


def lint(source: str) -> LintReport:
    """Run every check; stop early only when the source is too big or does not parse."""
    checks = [source_size(source)]
    if not checks[0].ok:
        return LintReport(tuple(checks))
    try:
        with AST_LOCK:
            tree = ast.parse(source, filename="<strategy>", mode="exec")
    except SyntaxError as e:
        checks.append(Check("syntax", False, "does not parse", (Finding(e.lineno, str(e.msg)),)))
        return LintReport(tuple(checks))
    except Exception as e:  # null bytes, absurd nesting, a parser that runs out of memory
        text = str(e) or type(e).__name__
        checks.append(Check("syntax", False, "does not parse", (Finding(None, text),)))
        return LintReport(tuple(checks))
    checks.append(Check("syntax", True, "parses"))
    cost = complexity(tree)
    checks.append(cost)
    if not cost.ok:  # the walks below are linear, but the report would be noise
        return LintReport(tuple(checks))
    checks += [
        check("structure", _structure(tree), "top level holds only functions and constants"),
        check("functions", _functions(tree), "meta/on_candles (and risk_levels) well-formed"),
        check("imports", _imports(tree), "no imports"),
        check("forbidden_syntax", _forbidden(tree), "no forbidden constructs"),
        check("names", _names(tree), "only API names and local names"),
        check("attributes", _attributes(tree), "only API attributes"),
        check("formatting", _formatting(tree), "format specs standard and bounded"),
    ]
    return LintReport(tuple(checks))
