"""Where strategies live and how they are found: the roots, listing, locating by name, adding a
promoted one.

Four roots, searched in this order so a user's own strategy shadows a shipped one of the same
name: ``$RARA_HOME/strategies/promoted`` (what this home's research promoted),
``$RARA_HOME/strategies/installed`` (what was installed from elsewhere), then what ships with
rara: ``strategies/promoted/`` (strategies that passed the research gate, each with its gate
report; a directory without one is refused as a problem, never served as promoted) and
``strategies/examples/`` (reference strategies for the API: examples, never promoted). A strategy
is a directory ``<root>/<name>/`` holding ``strategy.py``; its ``manifest.json`` is written last,
so a manifest means a complete directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from rara.home import Home
from rara.registry.manifest import Manifest, ManifestError, read_manifest
from rara_sandbox.manifest import MANIFEST_FILE, STRATEGY_FILE

Origin = Literal["promoted", "installed", "shipped", "example"]
ORIGINS: tuple[Origin, ...] = ("promoted", "installed", "shipped", "example")
_SHIPPED_STRATEGIES = Path(__file__).resolve().parents[2] / "strategies"
# strategies that passed the research gate, shipped with rara: each beside its report
SHIPPED_ROOT = _SHIPPED_STRATEGIES / "promoted"
# reference strategies for Strategy API v1, shipped with rara: examples, never promoted
EXAMPLES_ROOT = _SHIPPED_STRATEGIES / "examples"
GATE_REPORT_FILE = "gate_report.json"


class StrategyEntry(BaseModel):
    """One strategy directory and its manifest. `name` is the directory's name, which is what a
    user types; it differs from the manifest's name when two sources shared one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    origin: Origin
    path: Path
    manifest: Manifest

    @property
    def source_path(self) -> Path:
        return self.path / self.manifest.source


class ManifestProblem(BaseModel):
    """A directory the listing skipped because its manifest is not valid."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    origin: Origin
    path: Path
    message: str
    suggestion: str

    @classmethod
    def of(cls, origin: Origin, error: ManifestError) -> ManifestProblem:
        return cls(
            origin=origin, path=error.path, message=error.message, suggestion=error.suggestion
        )


def _unreported(directory: Path) -> ManifestError:
    return ManifestError(
        directory / GATE_REPORT_FILE,
        "missing: a strategy shipped as promoted must carry the gate report that promoted it",
    )


class Listing(BaseModel):
    """The valid strategies, by root then name, and the directories refused on the way."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategies: tuple[StrategyEntry, ...]
    problems: tuple[ManifestProblem, ...]


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class Registry:
    """The strategies one home can see. `shipped` (the promoted ones) and `examples` are None to
    leave out the repository's own."""

    def __init__(
        self,
        home: Home,
        shipped: Path | None = SHIPPED_ROOT,
        examples: Path | None = EXAMPLES_ROOT,
    ) -> None:
        self.home = home
        self.shipped = shipped
        self.examples = examples

    def root(self, origin: Origin) -> Path | None:
        if origin == "promoted":
            return self.home.promoted_dir
        if origin == "installed":
            return self.home.installed_dir
        if origin == "shipped":
            return self.shipped
        return self.examples

    def roots(self) -> list[tuple[Origin, Path]]:
        """Every root in search order (including ones not created yet)."""
        return [(o, r) for o in ORIGINS if (r := self.root(o)) is not None]

    # ---- reading -----------------------------------------------------------------------------
    def listing(self, origins: Iterable[Origin] = ORIGINS) -> Listing:
        """Every directory with a manifest under the given roots. A bad manifest is reported in
        `problems` and its directory skipped; one broken directory hides nothing else."""
        wanted = set(origins)
        entries: list[StrategyEntry] = []
        problems: list[ManifestProblem] = []
        for origin, root in self.roots():
            if origin not in wanted or not root.is_dir():
                continue
            for manifest_path in sorted(root.glob(f"*/{MANIFEST_FILE}")):
                directory = manifest_path.parent
                try:
                    manifest = read_manifest(directory)
                    if not self._reported(origin, directory):
                        raise _unreported(directory)
                except ManifestError as exc:
                    problems.append(ManifestProblem.of(origin, exc))
                    continue
                entries.append(
                    StrategyEntry(
                        name=directory.name, origin=origin, path=directory, manifest=manifest
                    )
                )
        return Listing(strategies=tuple(entries), problems=tuple(problems))

    def _reported(self, origin: Origin, directory: Path) -> bool:
        """Whether a directory may be served from its root: a strategy shipped as promoted only
        beside its gate report (this home's promotions are written with theirs)."""
        return origin != "shipped" or (directory / GATE_REPORT_FILE).is_file()

    def _found(self, name: str) -> tuple[Origin, Path] | None:
        """(origin, source file) of the strategy called `name` in the first root that has one."""
        if not name or Path(name).name != name or name in {".", ".."}:
            return None  # a name is one path component, never a way out of a root
        for origin, root in self.roots():
            source = root / name / STRATEGY_FILE
            if source.is_file() and self._reported(origin, source.parent):
                return origin, source
        return None

    def names(self) -> list[str]:
        """Every name `locate` finds, sorted (for listings and "did you mean")."""
        return sorted(
            {
                d.name
                for origin, root in self.roots()
                if root.is_dir()
                for d in root.iterdir()
                if (d / STRATEGY_FILE).is_file() and self._reported(origin, d)
            }
        )

    def locate(self, name: str) -> Path | None:
        """The source file of the strategy called `name` in the first root that has one."""
        found = self._found(name)
        return None if found is None else found[1]

    def get(self, name: str) -> StrategyEntry | None:
        """The manifest-carrying entry `locate` would pick; `ManifestError` if it is invalid,
        None if there is no such strategy or it has no manifest."""
        found = self._found(name)
        if found is None or not (found[1].parent / MANIFEST_FILE).is_file():
            return None
        origin, source = found
        return StrategyEntry(
            name=name, origin=origin, path=source.parent, manifest=read_manifest(source.parent)
        )

    # ---- writing -----------------------------------------------------------------------------
    def add_promoted(
        self, manifest: Manifest, source: str, attachments: Mapping[str, str] | None = None
    ) -> Path:
        """Write a strategy research promoted into this home; returns its directory.

        The directory is the manifest's name, or ``<name>-<sha256[:8]>`` when that name already
        holds different code (both are kept). The source and attachments go first, the manifest
        last, each replaced atomically."""
        root = self.home.promoted_dir
        target = root / manifest.name
        if (target / MANIFEST_FILE).exists():
            try:
                same = read_manifest(target).sha256 == manifest.sha256
            except ManifestError:
                same = False  # never overwrite what we cannot read
            if not same:
                target = root / f"{manifest.name}-{manifest.sha256[:8]}"
        self.home.ensure(target)
        _write_atomic(target / manifest.source, source)
        for file_name, text in (attachments or {}).items():
            _write_atomic(target / file_name, text)
        _write_atomic(target / MANIFEST_FILE, manifest.render())
        return target
