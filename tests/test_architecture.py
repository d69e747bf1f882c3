"""The shape of `rara/`, read from its source: the import graph between files and between packages.

Every ``import`` and ``from ... import`` counts, wherever it is written (module level, inside a
function, under ``if TYPE_CHECKING``): a lazy import is still a dependency, it only moves the
moment it bites. The rules: no cycle between packages, no cycle between files; ``rara.domain``
imports nothing of rara outside itself (it is the centre every package leans on);
``rara.validation`` never imports ``rara.runner`` (the gate judges, it does not run untrusted
code); ``rara.llm`` never imports ``rara.research`` (an adapter does not import its consumer).

A package here is a top-level unit under ``rara``: ``rara.data`` (with its sub-packages) or a
top-level module such as ``rara.config``. Importing ``a.b.c`` also runs ``a/__init__`` and
``a/b/__init__``; those implicit parent imports are not edges (every sub-module would otherwise
form a cycle with a package ``__init__`` that re-exports it).
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.kit.paths import RARA


@dataclass(frozen=True)
class Where:
    """Where an import is written, for the failure message."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


Graph = dict[str, dict[str, Where]]  # importer -> {imported: first place it is written}


def module_names(root: Path) -> dict[str, Path]:
    """Every module of the package at ``root``, by dotted name (``pkg/__init__.py`` is ``pkg``)."""
    out: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _targets(
    node: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules: set[str]
) -> set[str]:
    """The modules of ``modules`` one import statement loads by name."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in modules}
    base = node.module or ""
    if node.level:  # relative: from the importing module's package, up level - 1 more
        package = module.split(".") if is_package else module.split(".")[:-1]
        anchor = package[: len(package) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    out = set()
    for alias in node.names:
        # `from pkg import sub` loads the module pkg.sub; `from pkg.mod import name`, pkg.mod
        sub = f"{base}.{alias.name}"
        if sub in modules:
            out.add(sub)
        elif base in modules:
            out.add(base)
    return out


def import_graph(root: Path) -> Graph:
    """File-level import graph of the package at ``root``, restricted to its own modules."""
    modules = module_names(root)
    graph: Graph = {name: {} for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _targets(node, name, is_package, set(modules)) - {name}:
                    where = Where(str(path.relative_to(root.parent)), node.lineno)
                    graph[name].setdefault(target, where)
    return graph


def package_of(module: str, root_name: str) -> str:
    """The top-level unit a module belongs to: ``rara.data.fetch`` -> ``rara.data``."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else root_name


def package_graph(graph: Graph, root_name: str) -> Graph:
    out: Graph = {}
    for importer, targets in graph.items():
        src = package_of(importer, root_name)
        out.setdefault(src, {})
        for target, where in targets.items():
            dst = package_of(target, root_name)
            if dst != src:
                out[src].setdefault(dst, where)
    return out


def cycles(graph: Graph) -> list[list[str]]:
    """One cycle (as a path that returns to its start) per strongly connected component with more
    than one node; Tarjan's algorithm, iterative so depth is no concern."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, list[str]]] = [(start, sorted(graph.get(start, {})))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, pending = work[-1]
            if pending:
                nxt = pending.pop(0)
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph.get(nxt, {}))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return [_cycle_in(graph, set(c), c[0]) for c in sorted(components)]


def _cycle_in(graph: Graph, component: set[str], start: str) -> list[str]:
    """The shortest path start -> ... -> start inside one strongly connected component."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph.get(node, {})):
                if nxt not in component:
                    continue
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if nxt not in previous:
                    previous[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"{start} is in a component but on no cycle")


def describe(graph: Graph, cycle: list[str]) -> str:
    """``a -> b -> a`` with where each arrow is written."""
    arrows = [f"    {a} -> {b}  ({graph[a][b]})" for a, b in itertools.pairwise(cycle)]
    return " -> ".join(cycle) + "\n" + "\n".join(arrows)


def _inside(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def imports_outside(graph: Graph, package: str, allowed: Iterable[str]) -> list[str]:
    """Imports from modules of ``package`` to modules outside every ``allowed`` package."""
    allowed = tuple(allowed)
    return [
        f"{importer} -> {target}  ({where})"
        for importer, targets in sorted(graph.items())
        if _inside(importer, package)
        for target, where in sorted(targets.items())
        if not any(_inside(target, a) for a in allowed)
    ]


def imports_of(graph: Graph, package: str, forbidden: str) -> list[str]:
    """Imports from modules of ``package`` to modules of ``forbidden``."""
    return [
        f"{importer} -> {target}  ({where})"
        for importer, targets in sorted(graph.items())
        if _inside(importer, package)
        for target, where in sorted(targets.items())
        if _inside(target, forbidden)
    ]


@pytest.fixture(scope="module")
def rara_graph() -> Graph:
    return import_graph(RARA)


# --- the rules ----------------------------------------------------------------------------------


def test_no_import_cycle_between_packages(rara_graph: Graph) -> None:
    packages = package_graph(rara_graph, "rara")
    found = cycles(packages)
    assert not found, "import cycles between packages:\n" + "\n".join(
        describe(packages, c) for c in found
    )


def test_no_import_cycle_between_files(rara_graph: Graph) -> None:
    found = cycles(rara_graph)
    assert not found, "import cycles between files:\n" + "\n".join(
        describe(rara_graph, c) for c in found
    )


def test_domain_imports_nothing_of_rara_outside_itself(rara_graph: Graph) -> None:
    found = imports_outside(rara_graph, "rara.domain", allowed=["rara.domain"])
    assert not found, "rara.domain imports the rest of rara:\n" + "\n".join(found)


def test_validation_does_not_import_the_runner(rara_graph: Graph) -> None:
    found = imports_of(rara_graph, "rara.validation", "rara.runner")
    assert not found, "rara.validation imports rara.runner:\n" + "\n".join(found)


def test_llm_does_not_import_research(rara_graph: Graph) -> None:
    found = imports_of(rara_graph, "rara.llm", "rara.research")
    assert not found, "rara.llm imports rara.research:\n" + "\n".join(found)


# --- the checker itself: it must see what the rules are about -----------------------------------


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


def test_checker_sees_lazy_relative_and_from_imports(tmp_path: Path) -> None:
    pkg = write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/core/__init__.py": "from pkg.core import model\n",
            "pkg/core/model.py": "def f():\n    from pkg.io import store\n",
            "pkg/io/__init__.py": "",
            "pkg/io/store.py": "from ..core.model import f\nfrom . import codec\n",
            "pkg/io/codec.py": "import json\n",
            "pkg/app.py": "import pkg.io.store\n",
        },
    )
    graph = import_graph(pkg)
    assert graph == {
        "pkg": {},
        "pkg.app": {"pkg.io.store": Where("pkg/app.py", 1)},
        "pkg.core": {"pkg.core.model": Where("pkg/core/__init__.py", 1)},
        "pkg.core.model": {"pkg.io.store": Where("pkg/core/model.py", 2)},
        "pkg.io": {},
        "pkg.io.codec": {},
        "pkg.io.store": {
            "pkg.core.model": Where("pkg/io/store.py", 1),
            "pkg.io.codec": Where("pkg/io/store.py", 2),
        },
    }
    assert cycles(graph) == [["pkg.core.model", "pkg.io.store", "pkg.core.model"]]
    packages = package_graph(graph, "pkg")
    assert cycles(packages) == [["pkg.core", "pkg.io", "pkg.core"]]
    assert describe(packages, cycles(packages)[0]).startswith("pkg.core -> pkg.io -> pkg.core\n")
    assert imports_outside(graph, "pkg.core", ["pkg.core"]) == [
        "pkg.core.model -> pkg.io.store  (pkg/core/model.py:2)"
    ]
    assert imports_of(graph, "pkg.io", "pkg.core") == [
        "pkg.io.store -> pkg.core.model  (pkg/io/store.py:1)"
    ]
    assert imports_of(graph, "pkg.io", "pkg.co") == []  # a prefix of a name is not the package


def test_checker_finds_the_longer_cycle_and_leaves_a_tree_alone(tmp_path: Path) -> None:
    pkg = write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg import b\n",
            "pkg/b.py": "from pkg.c import thing\n",
            "pkg/c.py": "import pkg.a as a\nthing = 1\n",
            "pkg/d.py": "from pkg import a, b, c\n",
        },
    )
    graph = import_graph(pkg)
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]
    del graph["pkg.c"]["pkg.a"]
    assert cycles(graph) == []


def test_the_real_graph_is_read(rara_graph: Graph) -> None:
    """Known arrows of rara itself, so an empty graph cannot pass the rules above."""
    assert "rara.validation.trials" in rara_graph["rara.validation.gate"]
    assert "rara.domain.market" in rara_graph["rara.data.catalog"]
    assert any(t.startswith("rara.research") for t in rara_graph["rara.cli.research"])
