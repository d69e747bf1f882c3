"""`rara strategy fetch|installed|remove`: a strategy from a registry, installed only once it is
verified and vetted.

Fetch: open the index (signature, expiry, rollback: `client`), pick the version (a yanked one
only when allowed), download each file into a temporary folder under the installed root (size
capped by the index and the caps; names from a fixed set), check every sha256 and that the
manifest is the index's and pins the source, then lint, sandbox and gate 1 on this home's data
(`vet`). Only then is the folder moved into place (one rename), the lock written and the install
appended to the event log (``registry_strategy_installed``), where the lifecycle picks the
strategy up at its stage: paper candidate after gate 1, research with --no-gate (no trading
rights). A refusal at any step leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rara.domain.events import RegistryStrategyInstalled
from rara.domain.lifecycle import Stage
from rara.domain.strategy import strategy_id
from rara.events import open_event_store
from rara.home import Home
from rara.registry.manifest import Manifest
from rara.registry.remote.client import SOURCE, VerifiedIndex, open_index, record_seen
from rara.registry.remote.index import (
    MANIFEST_FILE,
    MAX_FILE_BYTES,
    STRATEGY_FILE,
    IndexedFile,
    IndexedVersion,
    RegistryError,
    safe_name,
)
from rara.registry.remote.keys import TrustStore
from rara.registry.remote.lock import (
    LOCAL_GATE_REPORT,
    LockedStrategy,
    StrategiesLock,
    read_lock,
    verify_installed,
    write_lock,
)
from rara.registry.remote.transport import DEFAULT_TIMEOUT_S, RegistrySource
from rara.registry.remote.vet import Judge, Market, lint_or_refuse


@dataclass(frozen=True)
class FetchRequest:
    """What `rara strategy fetch` was asked."""

    name: str
    version: str | None
    registry: str
    gate: bool = True
    allow_yanked: bool = False
    market: Market = field(default_factory=Market)
    timeout_s: float = DEFAULT_TIMEOUT_S

    @classmethod
    def parse(cls, ref: str, registry: str, **kw: Any) -> FetchRequest:
        name, _, version = ref.partition("@")
        try:
            safe_name(name)
        except ValueError as exc:
            raise RegistryError("registry_bad_name", str(exc)) from None
        return cls(name=name, version=version or None, registry=registry, **kw)


def _download(source: RegistrySource, f: IndexedFile, into: Path, ref: str) -> None:
    data = source.read(f.url, min(f.size, MAX_FILE_BYTES))
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != f.size or digest != f.sha256:
        raise RegistryError(
            "registry_hash_mismatch",
            f"{ref}: {f.name} is not the file the index pins (sha256 {digest[:16]}..., "
            f"{len(data)} bytes; the index says {f.sha256[:16]}..., {f.size} bytes)",
            "the file was tampered with or replaced; nothing was installed",
        )
    # the name is one of a fixed set (the index refuses any other), never a path
    (into / f.name).write_bytes(data)


def _manifest_of(entry: IndexedVersion, folder: Path) -> Manifest:
    try:
        manifest = Manifest.model_validate(json.loads((folder / MANIFEST_FILE).read_bytes()))
    except (ValueError, ValidationError) as exc:
        raise RegistryError("registry_bad_manifest", f"{entry.ref}: manifest.json: {exc}") from None
    strategy = entry.file(STRATEGY_FILE)
    if manifest != entry.manifest or strategy is None or manifest.sha256 != strategy.sha256:
        raise RegistryError(
            "registry_bad_manifest",
            f"{entry.ref}: manifest.json is not the manifest the index signs, or does not pin "
            "strategy.py",
            "nothing was installed; tell the registry's publisher",
        )
    if manifest.name != entry.name or manifest.version != entry.version:
        raise RegistryError(
            "registry_bad_manifest",
            f"{entry.ref}: its manifest says {manifest.name}@{manifest.version}",
        )
    return manifest


def fetch(
    home: Home, request: FetchRequest, judge: Judge | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Fetch, verify, vet and install one strategy; returns its lock entry. `judge` runs gate 1
    (`rara.services.vetting`); a request for the gate without one is refused."""
    if request.gate and judge is None:
        raise ValueError("gate 1 was asked for and no judge given")
    source = RegistrySource.of(request.registry, request.timeout_s)
    verified = open_index(source, TrustStore(home), home=home, now=now)
    with open_event_store(home.state_db) as store:
        # the floor rises with every authentic index used, whatever becomes of the install
        record_seen(store, verified)
    entry = verified.index.pick(request.name, request.version, request.allow_yanked)
    target = home.installed_dir / entry.name
    held = read_lock(home).strategies.get(entry.name)
    if target.exists() or held is not None:
        same = held is not None and held.files == {f.name: f.sha256 for f in entry.files}
        raise RegistryError(
            "registry_already_installed",
            f"{entry.name} is installed already"
            + (f" ({held.version})" if held is not None else f" ({target} exists)"),
            "nothing to do" if same else f"`rara strategy remove {entry.name}` first",
        )
    home.ensure(home.installed_dir)
    incoming = Path(tempfile.mkdtemp(prefix=".incoming-", dir=home.installed_dir))
    try:
        folder = incoming / entry.name
        folder.mkdir()
        for f in entry.files:
            _download(source, f, folder, entry.ref)
        manifest = _manifest_of(entry, folder)
        source_text = (folder / STRATEGY_FILE).read_text(encoding="utf-8")
        lint_or_refuse(entry.ref, source_text)
        report = None
        if request.gate:
            assert judge is not None
            report = judge(folder / STRATEGY_FILE, manifest, request.market)
            body = json.dumps(report.model_dump(mode="json"), indent=2, sort_keys=True)
            (folder / LOCAL_GATE_REPORT).write_text(body + "\n", encoding="utf-8")
        folder.rename(target)  # one rename: the strategy appears whole or not at all
    finally:
        shutil.rmtree(incoming, ignore_errors=True)
    stage: Stage = "paper_candidate" if request.gate else "research"
    judged_on = report.instrument if report is not None else None
    return _record(home, verified, entry, manifest, source_text, stage, judged_on)


def _record(
    home: Home,
    verified: VerifiedIndex,
    entry: IndexedVersion,
    manifest: Manifest,
    source_text: str,
    stage: Stage,
    judged_on: str | None,
) -> dict[str, Any]:
    gate_passed = judged_on is not None
    assert stage in ("research", "paper_candidate")
    sid = manifest.strategy_id or strategy_id(source_text, manifest.version)
    path = str(home.relative(home.installed_dir / entry.name))
    files = {f.name: f.sha256 for f in entry.files}
    locked = LockedStrategy(
        name=entry.name,
        version=entry.version,
        strategy_id=sid,
        path=path,
        files=files,
        index_version=verified.index.version,
        key_id=verified.key.key_id,
        registry=verified.source.base,
        stage=stage,
        installed_at=datetime.now(UTC).isoformat(),
        instrument=judged_on,
    )
    lock = read_lock(home)
    write_lock(home, StrategiesLock(strategies={**lock.strategies, entry.name: locked}))
    with open_event_store(home.state_db) as store:
        store.append(
            RegistryStrategyInstalled(
                name=entry.name,
                version=entry.version,
                path=path,
                stage=stage,
                key_id=verified.key.key_id,
                index_version=verified.index.version,
                files=files,
                gate_passed=gate_passed if stage == "paper_candidate" else None,
            ),
            source=SOURCE,
            strategy_id=sid,
        )
    return dict(locked.model_dump(mode="json"))


def installed(home: Home) -> list[dict[str, Any]]:
    """Every locked strategy, with whether its files still match the lock."""
    rows = []
    for entry in read_lock(home).strategies.values():
        problems = verify_installed(home, entry)
        rows.append({**entry.model_dump(mode="json"), "intact": not problems})
    return rows


def remove(home: Home, name: str) -> LockedStrategy:
    """Delete an installed strategy's directory and its lock entry; returns the entry (the
    caller retires it in the lifecycle: `rara.cli.strategy_registry`)."""
    lock = read_lock(home)
    entry = lock.strategies.get(name)
    if entry is None:
        known = ", ".join(sorted(lock.strategies)) or "none"
        raise RegistryError(
            "registry_not_installed",
            f"{name!r} is not installed from a registry",
            f"installed: {known} (`rara strategy installed`)",
        )
    directory = home.root / entry.path
    if directory.parent != home.installed_dir:  # the lock is ours, but never trust a path
        raise RegistryError("bad_lock", f"{entry.path} is not under {home.installed_dir}")
    shutil.rmtree(directory, ignore_errors=True)
    rest = {k: v for k, v in lock.strategies.items() if k != name}
    write_lock(home, StrategiesLock(strategies=rest))
    return entry
