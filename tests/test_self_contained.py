"""A user's clone is the whole project: nothing in it points outside the checkout.

The repository once sent readers to ``../shared/DESIGN.md``, which exists only beside the
developers' checkout. These tests read every text file of the project (what ``git ls-files`` would
list, without needing git) for paths that leave the clone, and every relative Markdown link for a
target that is missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from tests.kit.paths import REPO

# build output, environments and caches are not the project
SKIP_DIRS = {".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", "build"}
TEXT_SUFFIXES = {".py", ".md", ".txt", ".toml", ".json", ".sh", ".cfg", ".ini", ".yml", ".yaml"}
TEXT_NAMES = {"Makefile", "Dockerfile", "run"}
OUTSIDE = re.compile(r"\.\./shared\b|/work/shared\b")
MD_LINK = re.compile(r"\]\(([^)\s]+)\)")


def project_files() -> Iterator[Path]:
    for path in sorted(REPO.rglob("*")):
        rel = path.relative_to(REPO)
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in rel.parts):
            continue
        if path.is_file() and (path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES):
            yield path


def test_the_walk_sees_the_project() -> None:
    names = {p.relative_to(REPO).as_posix() for p in project_files()}
    assert {"README.md", "Makefile", ".ci/run", "docs/ARCHITECTURE.md"} <= names


def test_nothing_refers_outside_the_clone() -> None:
    here = Path(__file__).resolve()
    found = [
        f"{p.relative_to(REPO)}:{n}: {line.strip()}"
        for p in project_files()
        if p.resolve() != here
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert not found, "references to files outside the clone:\n" + "\n".join(found)


def test_relative_markdown_links_resolve_inside_the_clone() -> None:
    broken = []
    for doc in (p for p in project_files() if p.suffix == ".md"):
        for target in MD_LINK.findall(doc.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue  # a URL or an anchor in the same page
            resolved = (doc.parent / target.split("#", 1)[0]).resolve()
            if not resolved.is_relative_to(REPO) or not resolved.exists():
                broken.append(f"{doc.relative_to(REPO)} -> {target}")
    assert not broken, "links that leave the clone or lead nowhere:\n" + "\n".join(broken)


def test_the_readme_links_the_architecture_map() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "](docs/ARCHITECTURE.md)" in readme
