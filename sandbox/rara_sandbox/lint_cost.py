"""What keeps lint's cost bounded by construction, before and apart from any time limit.

`rara sandbox check` runs lint in the host process, so hostile source must not make it slow: the
source size is checked before parsing (`source_size`), the node count and depths before any
other walk (`complexity`, itself iterative), every other walk is linear in the nodes, and the one
superlinear step, the "did you mean" hint (a string similarity against every known name), runs
for the first `MAX_FINDINGS` unknown names only, against at most `MAX_HINT_CANDIDATES` names of
similar length, and not for names longer than `MAX_HINT_NAME` (`Hints`; a file of thousands of
look-alike names cost minutes here).
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterable

from rara_sandbox.lint_report import MAX_FINDINGS, Check, Finding, check

MAX_SOURCE_BYTES = 64 * 1024
MAX_AST_NODES = 12_000
MAX_AST_DEPTH = 60  # expression + statement depth; guards the compiler and our own walks
MAX_BLOCK_DEPTH = 8  # nested def/if/for/while
MAX_HINT_CANDIDATES = 64  # names one "did you mean" hint compares against (nearest lengths)
MAX_HINT_NAME = 48  # longer names get no hint (similarity is quadratic in the length)


def source_size(source: str) -> Check:
    """The size check, run before parsing: the parser's cost grows with the source."""
    size = len(source.encode("utf-8", errors="surrogatepass"))
    return check(
        "source_size",
        [
            Finding(
                None,
                f"{size} bytes, limit {MAX_SOURCE_BYTES}: shorten the source (remove unused "
                "code, long comments and generated tables)",
            )
        ]
        if size > MAX_SOURCE_BYTES
        else [],
        f"{size} bytes",
    )


class Hints:
    """Hints ("did you mean ...?") with a bounded cost: `MAX_FINDINGS` of them per check, each
    against at most `limit` names of the nearest lengths (the rest get none). The strategy's
    own names are limited; the API's (attributes, ``ta``) are a fixed set."""

    def __init__(self, candidates: Iterable[str], limit: int | None = MAX_HINT_CANDIDATES) -> None:
        self._candidates = sorted(c for c in candidates if len(c) <= MAX_HINT_NAME)
        self._limit = limit
        self.given = 0

    def nearest(self, word: str) -> str:
        if self.given >= MAX_FINDINGS or len(word) > MAX_HINT_NAME:
            return ""
        self.given += 1
        pool = self._candidates
        if self._limit is not None and len(pool) > self._limit:
            pool = sorted(pool, key=lambda c: (abs(len(c) - len(word)), c))[: self._limit]
        m = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
        return f" (did you mean {m[0]!r}?)" if m else ""


def _depths(tree: ast.AST) -> tuple[int, int, int]:
    """(node count, max AST depth, max block depth), iteratively: no recursion on hostile input."""
    count = max_depth = max_block = 0
    blocks = (ast.FunctionDef, ast.If, ast.For, ast.While)
    stack: list[tuple[ast.AST, int, int]] = [(tree, 1, 0)]
    while stack:
        node, depth, block = stack.pop()
        count += 1
        if isinstance(node, blocks):
            block += 1
        max_depth, max_block = max(max_depth, depth), max(max_block, block)
        stack.extend((child, depth + 1, block) for child in ast.iter_child_nodes(node))
    return count, max_depth, max_block


def complexity(tree: ast.Module) -> Check:
    """The node count, AST depth and block depth against their limits, before any other walk."""
    count, depth, block = _depths(tree)
    problems = []
    if count > MAX_AST_NODES:
        problems.append(
            Finding(
                None,
                f"{count} AST nodes, limit {MAX_AST_NODES}: a strategy this large costs the "
                "checks too much; compute with ta and array operations instead of spelled-out "
                "statements",
            )
        )
    if depth > MAX_AST_DEPTH:
        problems.append(
            Finding(
                None,
                f"AST depth {depth}, limit {MAX_AST_DEPTH}: split deeply nested expressions "
                "into named steps",
            )
        )
    if block > MAX_BLOCK_DEPTH:
        problems.append(
            Finding(
                None,
                f"blocks nested {block} deep, limit {MAX_BLOCK_DEPTH}: move inner blocks into "
                "helper functions or combine conditions with & and |",
            )
        )
    return check("complexity", problems, f"{count} nodes, depth {depth}, block depth {block}")
