"""``$RARA_HOME/strategies/strategies.lock``: what was installed from a registry, pinned. Per
strategy: name, version, every file's sha256, the index version and key it came from, where,
when, at which stage. `verify` re-hashes the installed files against it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rara.errors import RaraError
from rara.home import Home
from rara.registry.manifest import Manifest, read_manifest

LOCK_FILE = "strategies.lock"


class LockedStrategy(BaseModel):
    """One installed strategy, as installed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: str
    strategy_id: str
    path: str = Field(description="its directory, relative to $RARA_HOME")
    files: dict[str, str] = Field(description="file name -> sha256")
    index_version: int
    key_id: str
    registry: str = Field(description="the registry's URL")
    stage: Literal["research", "paper_candidate"]
    installed_at: str
    instrument: str | None = Field(
        None,
        description="exchange:symbol:timeframe gate 1 judged it on here (None: not judged); the "
        "market it trades when its manifest names none",
    )


class StrategiesLock(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal[1] = 1
    strategies: dict[str, LockedStrategy] = Field(default_factory=dict)


class FileProblem(BaseModel):
    """A locked file that is not what was installed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    file: str
    problem: Literal["changed", "missing", "unexpected"]
    expected: str | None
    found: str | None


def lock_path(home: Home) -> Path:
    return home.strategies_dir / LOCK_FILE


def read_lock(home: Home) -> StrategiesLock:
    """The lock (empty when nothing was installed); a `RaraError` when it is not one."""
    path = lock_path(home)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return StrategiesLock()
    try:
        return StrategiesLock.model_validate_json(text)
    except ValidationError as exc:
        raise RaraError(
            "bad_lock",
            f"{path}: not a strategies lock ({exc.error_count()} problems)",
            "restore it, or remove the installed strategies and fetch them again",
        ) from exc


def write_lock(home: Home, lock: StrategiesLock) -> None:
    path = lock_path(home)
    home.ensure(path.parent)
    tmp = path.with_name(f".{path.name}.tmp")
    body = json.dumps(lock.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, path)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_installed(home: Home, entry: LockedStrategy) -> list[FileProblem]:
    """Every installed file re-hashed against the lock; a file beside them that the lock does
    not name (other than rara's own local gate report) is reported too."""
    directory = home.root / entry.path
    problems: list[FileProblem] = []
    for file_name, expected in sorted(entry.files.items()):
        path = directory / file_name
        if not path.is_file():
            problems.append(
                FileProblem(
                    name=entry.name,
                    file=file_name,
                    problem="missing",
                    expected=expected,
                    found=None,
                )
            )
            continue
        found = sha256_file(path)
        if found != expected:
            problems.append(
                FileProblem(
                    name=entry.name,
                    file=file_name,
                    problem="changed",
                    expected=expected,
                    found=found,
                )
            )
    if directory.is_dir():
        for path in sorted(directory.iterdir()):
            if path.name not in entry.files and path.name != LOCAL_GATE_REPORT:
                problems.append(
                    FileProblem(
                        name=entry.name,
                        file=path.name,
                        problem="unexpected",
                        expected=None,
                        found=None,
                    )
                )
    return problems


# the report of gate 1 on this home's data, written beside the locked files at install
LOCAL_GATE_REPORT = "local_gate_report.json"


def locked_entry(home: Home, directory: Path) -> LockedStrategy | None:
    """The lock's entry for the strategy directory, if it was installed from a registry."""
    try:
        relative = str(home.relative(directory))
    except ValueError:
        return None
    return next((e for e in read_lock(home).strategies.values() if e.path == relative), None)


def traded_instrument(home: Home, directory: Path, manifest: Manifest | None = None) -> str | None:
    """The market (``exchange:symbol:timeframe``) the strategy in `directory` trades: its
    manifest's (`manifest` when the caller read it already), else, for one installed from a
    registry whose manifest names none, the market gate 1 judged it on at install."""
    instrument = (manifest or read_manifest(directory)).instrument
    if instrument is None:
        locked = locked_entry(home, directory)
        instrument = locked.instrument if locked is not None else None
    return instrument


def ensure_intact(home: Home, directory: Path) -> None:
    """Refuse (`RaraError`, code ``registry_verify_failed``) to use a strategy directory that was
    installed from a registry and whose files no longer match ``strategies.lock``; a directory the
    lock does not name is not this check's business."""
    entry = locked_entry(home, directory)
    if entry is None:
        return
    problems = verify_installed(home, entry)
    if problems:
        listed = ", ".join(f"{p.file} {p.problem}" for p in problems)
        raise RaraError(
            "registry_verify_failed",
            f"{entry.name}: installed files differ from strategies.lock ({listed})",
            f"`rara strategy remove {entry.name}` and fetch it again",
        )
