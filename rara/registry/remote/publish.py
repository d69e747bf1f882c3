"""`rara strategy publish`: the static tree of a registry, written from strategies this home can
see, with their lineage from its event log, and signed.

The tree is ``index.json``, ``index.json.sig`` and ``strategies/<name>/<version>/<file>``; any web
server or folder can host it. Publishing into a folder that holds an index adds to it: the
version grows by one, the other entries stay, and a name@version already published must be the
same files (a version is never reused for other code).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from rara.domain.events import ResearchStrategyCandidate
from rara.events import EventFilter, EventStore
from rara.events.digest import run_hash
from rara.registry.registry import GATE_REPORT_FILE, StrategyEntry
from rara.registry.remote.index import (
    INDEX_FILE,
    MANIFEST_FILE,
    SIGNATURE_FILE,
    STRATEGY_FILE,
    IndexedFile,
    IndexedVersion,
    IndexStage,
    Provenance,
    RegistryError,
    RegistryIndex,
    parse_index,
    safe_name,
)
from rara.registry.remote.keys import public_of, sign

DEFAULT_EXPIRY_DAYS = 90


@dataclass(frozen=True)
class Published:
    """One strategy version to publish: its entry and the bytes of its files."""

    version: IndexedVersion
    files: dict[str, bytes]


def lineage(store: EventStore | None, strategy_id: str | None) -> Provenance:
    """The promotion of `strategy_id` in the log: the run, its hash, the event's seq."""
    if store is None or strategy_id is None:
        return Provenance(strategy_id=strategy_id)
    flt = EventFilter(types=[ResearchStrategyCandidate], strategy_id=strategy_id)
    promoted = next(iter(store.query(flt)), None)
    if promoted is None or promoted.correlation_id is None:
        return Provenance(strategy_id=strategy_id)
    return Provenance(
        strategy_id=strategy_id,
        run_id=promoted.correlation_id,
        run_hash=run_hash(store, promoted.correlation_id),
        promotion_seq=promoted.seq,
    )


def package(entry: StrategyEntry, store: EventStore | None) -> Published:
    """A strategy directory as one index entry: strategy.py, manifest.json and, when it was
    promoted, the gate report that promoted it (stage paper candidate; without one: research)."""
    name = safe_name(entry.name.replace("-", "_"))
    files = {
        n: (entry.path / n).read_bytes()
        for n in (STRATEGY_FILE, MANIFEST_FILE, GATE_REPORT_FILE)
        if (entry.path / n).is_file()
    }
    manifest = entry.manifest
    if hashlib.sha256(files[STRATEGY_FILE]).hexdigest() != manifest.sha256:
        raise RegistryError(
            "publish_bad_manifest",
            f"{entry.path}: manifest.json does not pin strategy.py",
            "the strategy changed after it was written; refusing to publish it",
        )
    if name != manifest.name:  # the index's name is what installs; keep the manifest's too
        raise RegistryError(
            "publish_bad_name",
            f"{entry.path}: directory {entry.name!r} holds strategy {manifest.name!r}",
            "publish it under its manifest's name",
        )
    stage: IndexStage = "paper_candidate" if GATE_REPORT_FILE in files else "research"
    prov = lineage(store, manifest.strategy_id)
    if GATE_REPORT_FILE in files:
        prov = prov.model_copy(
            update={"gate_reports": {GATE_REPORT_FILE: _sha(files[GATE_REPORT_FILE])}}
        )
    version = IndexedVersion(
        name=name,
        version=manifest.version,
        api_version=manifest.api_version,
        stage=stage,
        files=tuple(
            IndexedFile(
                name=n,
                url=f"strategies/{name}/{manifest.version}/{n}",
                size=len(data),
                sha256=_sha(data),
            )
            for n, data in sorted(files.items())
        ),
        manifest=manifest,
        provenance=prov,
    )
    return Published(version, files)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_tree(
    out: Path,
    items: list[Published],
    key: Ed25519PrivateKey,
    *,
    expires_days: float = DEFAULT_EXPIRY_DAYS,
    now: datetime | None = None,
    yank: tuple[str, ...] = (),
) -> RegistryIndex:
    """Write (or add to) the registry tree at `out` and sign its index; returns the index.
    `yank` names ``name@version`` entries to mark yanked."""
    key_id = public_of(key).key_id
    previous = _previous(out, key_id)
    kept = {s.ref: s for s in (previous.strategies if previous else ())}
    for item in items:
        old = kept.get(item.version.ref)
        if old is not None and old.files != item.version.files:
            raise RegistryError(
                "publish_version_reused",
                f"{item.version.ref} is published already, with other files",
                "bump the strategy's version; a published version never changes",
            )
        for f in item.version.files:
            _write(out / f.url, item.files[f.name])
        kept[item.version.ref] = item.version
    for ref in yank:
        if ref not in kept:
            raise RegistryError("publish_unknown", f"{ref} is not in the index", "")
        kept[ref] = type(kept[ref]).model_validate({**kept[ref].model_dump(), "yanked": True})
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    index = RegistryIndex(
        version=(previous.version + 1) if previous else 1,
        generated=moment,
        expires=moment + timedelta(days=expires_days),
        key_id=key_id,
        strategies=tuple(sorted(kept.values(), key=lambda s: (s.name, s.version))),
    )
    raw = index.render()
    _write(out / INDEX_FILE, raw)
    _write(out / SIGNATURE_FILE, sign(key, raw))
    return index


def _previous(out: Path, key_id: str) -> RegistryIndex | None:
    path = out / INDEX_FILE
    if not path.is_file():
        return None
    index = parse_index(path.read_bytes(), str(path))
    if index.key_id != key_id:
        raise RegistryError(
            "publish_other_key",
            f"{path} is signed by key {index.key_id}, not {key_id}",
            "publish with the same key, or into another folder",
        )
    return index
