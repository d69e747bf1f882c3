"""The registry's static index, ``index.json``, as typed values: what a registry offers, signed
over its exact bytes (``index.json.sig``, `rara.registry.remote.keys`).

An index names its format, a version that only ever grows (a client refuses a lower one than it
has seen: rollback), when it was generated and when it expires (a client refuses it after:
freeze), and the key that signed it. Per strategy and version: the Strategy API version, the
files (a safe name, a URL relative to the index, size, sha256), the manifest, the stage it is
offered at, a yanked flag, and its provenance (the gate reports' sha256, the run hash, the event
seq of the promotion). Everything a client reads from it is parsed here, once: a name that could
leave a directory, a size beyond the caps or a malformed hash is refused before any download.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rara.errors import RaraError
from rara.registry.manifest import Manifest

INDEX_FILE = "index.json"
SIGNATURE_FILE = "index.json.sig"
INDEX_FORMAT = 1
MAX_INDEX_BYTES = 4 * 1024 * 1024
MAX_FILE_BYTES = 1024 * 1024  # a strategy, its manifest, a gate report: far below this
# the files a strategy version may carry, and nothing else: no name can leave its directory
STRATEGY_FILE = "strategy.py"
MANIFEST_FILE = "manifest.json"
GATE_REPORT_FILE = "gate_report.json"
ALLOWED_FILES = (STRATEGY_FILE, MANIFEST_FILE, GATE_REPORT_FILE)
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+-]{0,31}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
IndexStage = Literal["research", "paper_candidate"]
API_VERSION = 1  # the Strategy API this rara runs


class RegistryError(RaraError):
    """The registry cannot be used as asked: unreachable, unsigned, tampered, stale, unsafe. Exit
    3: nothing was installed."""

    exit_code = 3

    def __init__(self, code: str, message: str, suggestion: str = "") -> None:
        super().__init__(
            code, message, suggestion or "nothing was installed; check the registry's URL"
        )


def safe_name(name: str) -> str:
    """A strategy name that is one plain path component (the directory it installs to)."""
    if not NAME_RE.match(name):
        raise ValueError(f"unsafe strategy name {name!r}: lowercase letters, digits and _")
    return name


class IndexedFile(BaseModel):
    """One file of a strategy version: where to get it, and what it must be."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    url: str = Field(min_length=1, max_length=2048)
    size: int = Field(ge=0)
    sha256: str

    @field_validator("name")
    @classmethod
    def _safe_file_name(cls, v: str) -> str:
        if v not in ALLOWED_FILES:
            raise ValueError(
                f"unsafe file name {v!r}: a strategy carries only {', '.join(ALLOWED_FILES)}"
            )
        return v

    @field_validator("sha256")
    @classmethod
    def _hex(cls, v: str) -> str:
        if not SHA256_RE.match(v):
            raise ValueError("sha256 must be 64 lowercase hex digits")
        return v


class Provenance(BaseModel):
    """Where a promoted version came from; all None for an example (never promoted)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gate_reports: dict[str, str] = Field(
        default_factory=dict, description="file name -> sha256 of each gate report"
    )
    run_id: str | None = None
    run_hash: str | None = None
    promotion_seq: int | None = Field(
        default=None, description="seq of the promotion's event in the publisher's log"
    )
    strategy_id: str | None = None


class IndexedVersion(BaseModel):
    """One version of one strategy as the index offers it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: str
    api_version: int
    stage: IndexStage
    files: tuple[IndexedFile, ...]
    manifest: Manifest
    yanked: bool = False
    provenance: Provenance = Provenance()

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return safe_name(v)

    @field_validator("version")
    @classmethod
    def _version(cls, v: str) -> str:
        if not VERSION_RE.match(v):
            raise ValueError(f"unsafe version {v!r}")
        return v

    @field_validator("files")
    @classmethod
    def _files(cls, v: tuple[IndexedFile, ...]) -> tuple[IndexedFile, ...]:
        names = [f.name for f in v]
        if len(set(names)) != len(names):
            raise ValueError("a file name appears twice")
        for need in (STRATEGY_FILE, MANIFEST_FILE):
            if need not in names:
                raise ValueError(f"{need} is missing")
        for f in v:
            if f.size > MAX_FILE_BYTES:
                raise ValueError(f"{f.name} is {f.size} bytes, over the {MAX_FILE_BYTES} cap")
        return v

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def file(self, name: str) -> IndexedFile | None:
        return next((f for f in self.files if f.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class RegistryIndex(BaseModel):
    """A whole index: its metadata and every strategy version it offers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal[1] = 1  # INDEX_FORMAT
    version: int = Field(ge=1, description="grows with every publication; never reused")
    generated: datetime
    expires: datetime
    key_id: str
    strategies: tuple[IndexedVersion, ...] = ()

    def expired(self, now: datetime) -> bool:
        return now >= self.expires

    def versions(self, name: str) -> list[IndexedVersion]:
        return [s for s in self.strategies if s.name == name]

    def pick(self, name: str, version: str | None, allow_yanked: bool) -> IndexedVersion:
        """The version asked for (None: the newest not yanked); `RegistryError` if the index has
        no such version, or it is yanked and `allow_yanked` is not set."""
        offered = self.versions(name)
        if not offered:
            known = ", ".join(sorted({s.name for s in self.strategies})) or "none"
            raise RegistryError(
                "registry_unknown_strategy",
                f"the index offers no strategy {name!r}",
                f"`rara strategy list --registry URL` lists what it offers; known: {known}",
            )
        if version is None:
            live = [s for s in offered if not s.yanked]
            if not live and not allow_yanked:
                raise RegistryError(
                    "registry_yanked",
                    f"every version of {name} is yanked",
                    "pass --allow-yanked with NAME@VERSION if you really want one",
                )
            return max(live or offered, key=lambda s: _version_key(s.version))
        hit = next((s for s in offered if s.version == version), None)
        if hit is None:
            have = ", ".join(s.version for s in offered)
            raise RegistryError(
                "registry_unknown_version",
                f"the index offers no version {version} of {name}",
                f"offered: {have}",
            )
        if hit.yanked and not allow_yanked:
            raise RegistryError(
                "registry_yanked",
                f"{hit.ref} is yanked by its publisher",
                "pick another version, or pass --allow-yanked if you really want this one",
            )
        return hit

    def render(self) -> bytes:
        """The exact bytes published and signed: sorted keys, two-space indent, UTC times."""
        body = self.model_dump(mode="json", exclude_unset=False)
        return (json.dumps(body, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _version_key(version: str) -> tuple[int, tuple[Any, ...]]:
    from packaging.version import InvalidVersion, Version

    try:
        v = Version(version)
    except InvalidVersion:
        return (0, (version,))
    return (1, (v,))


def _describe(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'index'}: {err['msg']}"
        for err in exc.errors(include_url=False)[:5]
    )


def parse_index(raw: bytes, where: str) -> RegistryIndex:
    """The index in `raw` (already size-capped and signature-checked); `RegistryError` naming
    the field when it is not one this rara reads."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RegistryError("registry_bad_index", f"{where}: not JSON ({exc})") from exc
    if isinstance(body, dict) and body.get("format") not in (None, INDEX_FORMAT):
        raise RegistryError(
            "registry_bad_index",
            f"{where}: index format {body.get('format')!r}; this rara reads {INDEX_FORMAT}",
            "upgrade rara",
        )
    try:
        index = RegistryIndex.model_validate(body)
    except ValidationError as exc:
        raise RegistryError(
            "registry_bad_index",
            f"{where}: {_describe(exc)}",
            "the publisher must fix the index; nothing was installed",
        ) from exc
    for s in index.strategies:
        if s.api_version != API_VERSION:
            raise RegistryError(
                "registry_bad_index",
                f"{where}: {s.ref} needs Strategy API v{s.api_version}; this rara runs "
                f"v{API_VERSION}",
                "upgrade rara, or pick another version",
            )
    return index


def utc_now() -> datetime:
    return datetime.now(UTC)
