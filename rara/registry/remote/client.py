"""Opening a registry's index the only way rara uses one: read with size caps, its signature
checked against the trust store over the exact bytes, parsed, and refused when expired (freeze)
or older than the newest index of its key this home has seen (rollback).

The newest version seen per key is kept in the event log (``registry_index_seen``), appended when
a fetch uses an index; a listing checks against it without writing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rara.domain.events import RegistryIndexSeen
from rara.events import EventFilter, EventStore, open_event_store
from rara.home import Home
from rara.registry.remote.index import (
    INDEX_FILE,
    MAX_INDEX_BYTES,
    SIGNATURE_FILE,
    RegistryError,
    RegistryIndex,
    parse_index,
    utc_now,
)
from rara.registry.remote.keys import PublicKey, TrustStore
from rara.registry.remote.transport import RegistrySource

# rara's own signed index, shipped in the repository: what `rara strategy list --registry` shows
# on a fresh machine with no network
SHIPPED_INDEX = Path(__file__).resolve().parents[3] / "strategies" / "registry"
MAX_SIGNATURE_BYTES = 1024
SOURCE = "registry"


@dataclass(frozen=True)
class VerifiedIndex:
    """An index whose signature, expiry and version were checked."""

    source: RegistrySource
    index: RegistryIndex
    sha256: str
    key: PublicKey


@dataclass(frozen=True)
class SeenFloor:
    """The newest index of one key this home used: its version and the sha256 of its bytes."""

    version: int
    sha256: str


def seen_floor(store: EventStore, key_id: str) -> SeenFloor | None:
    floor: SeenFloor | None = None
    for ev in store.query(EventFilter(types=[RegistryIndexSeen])):
        p = ev.typed()
        if not isinstance(p, RegistryIndexSeen) or p.key_id != key_id:
            continue
        if floor is None or p.index_version >= floor.version:
            floor = SeenFloor(p.index_version, p.index_sha256)
    return floor


def read_floor(home: Home, key_id: str) -> SeenFloor | None:
    """The floor from `home`'s log, read without creating a state DB on a fresh home."""
    if not home.state_db.exists():
        return None
    with open_event_store(home.state_db, readonly=True) as store:
        return seen_floor(store, key_id)


def _claimed_key_id(raw: bytes, where: str) -> str:
    """The key id the (not yet verified) index names, to know which key must verify it."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RegistryError("registry_bad_index", f"{where}: not JSON ({exc})") from exc
    key_id = body.get("key_id") if isinstance(body, dict) else None
    if not isinstance(key_id, str) or not key_id:
        raise RegistryError("registry_bad_index", f"{where}: names no key_id")
    return key_id


def open_index(
    source: RegistrySource,
    trust: TrustStore,
    *,
    home: Home | None = None,
    now: datetime | None = None,
) -> VerifiedIndex:
    """The registry's index, verified. The rollback floor is read from `home`'s log."""
    where = source.resolve(INDEX_FILE)
    raw = source.read(INDEX_FILE, MAX_INDEX_BYTES)
    signature = source.read(SIGNATURE_FILE, MAX_SIGNATURE_BYTES)
    key = trust.verify(_claimed_key_id(raw, where), signature, raw, where)
    index = parse_index(raw, where)
    sha = hashlib.sha256(raw).hexdigest()
    moment = now or utc_now()
    if index.expired(moment):
        raise RegistryError(
            "registry_index_expired",
            f"{where}: index version {index.version} expired at "
            f"{index.expires.isoformat()} (a registry frozen at an old index looks like this)",
            "the publisher must publish a fresh index; nothing was installed",
        )
    seen = read_floor(home, index.key_id) if home is not None else None
    if seen is not None:
        if index.version < seen.version:
            raise RegistryError(
                "registry_index_rollback",
                f"{where}: index version {index.version} is older than version "
                f"{seen.version} already seen from key {index.key_id} (rollback)",
                "a registry (or something between) serves an old index; nothing was installed",
            )
        if index.version == seen.version and sha != seen.sha256:
            raise RegistryError(
                "registry_index_rollback",
                f"{where}: index version {index.version} differs from the version "
                f"{seen.version} already seen from key {index.key_id}",
                "a publisher never reuses a version; nothing was installed",
            )
    return VerifiedIndex(source, index, sha, key)


def record_seen(store: EventStore, verified: VerifiedIndex) -> None:
    """Keep the index's version as the floor for its key (once per version)."""
    seen = seen_floor(store, verified.index.key_id)
    if seen is not None and seen.version >= verified.index.version:
        return
    index = verified.index
    store.append(
        RegistryIndexSeen(
            key_id=index.key_id,
            index_version=index.version,
            index_sha256=verified.sha256,
            url=verified.source.base,
            expires=index.expires.isoformat(),
        ),
        source=SOURCE,
    )
