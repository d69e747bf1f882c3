"""Where strategies live and how they are found: the roots, listing, locating by name, adding a
promoted one.

Three roots, searched in this order so a user's own strategy shadows a shipped one of the same
name: ``$RARA_HOME/strategies/promoted`` (what this home's research promoted),
``$RARA_HOME/strategies/installed`` (what was installed from elsewhere) and the
``strategies/promoted/`` shipped with rara. A strategy is a directory ``<root>/<name>/`` holding
``strategy.py``; its ``manifest.json`` is written last, so a manifest means a complete directory.
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

Origin = Literal["promoted", "installed", "shipped"]
ORIGINS: tuple[Origin, ...] = ("promoted", "installed", "shipped")
SHIPPED_ROOT = Path(__file__).resolve().parents[2] / "strategies" / "promoted"


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
    """The strategies one home can see. `shipped` is None to leave out the repository's own."""

    def __init__(self, home: Home, shipped: Path | None = SHIPPED_ROOT) -> None:
        self.home = home
        self.shipped = shipped

    def root(self, origin: Origin) -> Path | None:
        if origin == "promoted":
            return self.home.promoted_dir
        if origin == "installed":
            return self.home.installed_dir
        return self.shipped

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
                except ManifestError as exc:
                    problems.append(ManifestProblem.of(origin, exc))
                    continue
                entries.append(
                    StrategyEntry(
                        name=directory.name, origin=origin, path=directory, manifest=manifest
                    )
                )
        return Listing(strategies=tuple(entries), problems=tuple(problems))

    def names(self) -> list[str]:
        """Every name `locate` finds, sorted (for listings and "did you mean")."""
        return sorted(
            {
                d.name
                for _, root in self.roots()
                if root.is_dir()
                for d in root.iterdir()
                if (d / STRATEGY_FILE).is_file()
            }
        )

    def locate(self, name: str) -> Path | None:
        """The source file of the strategy called `name` in the first root that has one."""
        if not name or Path(name).name != name or name in {".", ".."}:
            return None  # a name is one path component, never a way out of a root
        for _, root in self.roots():
            source = root / name / STRATEGY_FILE
            if source.is_file():
                return source
        return None

    def get(self, name: str) -> StrategyEntry | None:
        """The manifest-carrying entry `locate` would pick; `ManifestError` if it is invalid,
        None if there is no such strategy or it has no manifest."""
        source = self.locate(name)
        if source is None or not (source.parent / MANIFEST_FILE).is_file():
            return None
        root = source.parent.parent
        origin = next(o for o, r in self.roots() if r == root)
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
