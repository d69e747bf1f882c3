"""Strategy identity and declaration: one stable id per (source, version) that travels through
every event, and the typed `meta()` a strategy declares (Strategy API v1).

`StrategyMeta` is parsed once, at the edge where the sandbox hands back the untrusted dict; from
there on the meta crosses packages as this type, never as a dict read by key.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

JsonScalar = bool | int | float | str


def source_sha256(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def strategy_id(source: str, version: str) -> str:
    """Content hash of the source and its declared version, e.g. ``st_3f9a...`` (16 hex)."""
    digest = hashlib.sha256(f"{version}\n{source}".encode()).hexdigest()
    return f"st_{digest[:16]}"


class StrategyMeta(BaseModel):
    """What a strategy's ``meta()`` declares. The sandbox validates the raw dict (`rara_sandbox.
    validate.validate_meta`); this is the host's typed copy of that validated value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    version: str = Field(pattern=r"^[0-9]{1,6}\.[0-9]{1,6}\.[0-9]{1,6}$")
    api_version: Literal[1] = 1
    timeframe: str = Field(pattern=r"^[1-9][0-9]{0,3}[mhdw]$", description="bar length it is for")
    lookback: int = Field(ge=0, description="bars of history it needs before a signal is valid")
    description: str = ""
    params: dict[str, JsonScalar] = Field(default_factory=dict, description="default params")

    @classmethod
    def from_sandbox(cls, raw: dict[str, Any]) -> StrategyMeta:
        """The typed meta from the dict an evaluation returned (already validated there)."""
        return cls.model_validate(raw)


class StrategyRef(BaseModel):
    """A strategy's identity, computed once per candidate and passed along: name and version
    from its meta, the stable `strategy_id` and the sha256 of its source text."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: str
    strategy_id: str
    source_sha256: str

    @classmethod
    def of(cls, source: str, meta: StrategyMeta) -> StrategyRef:
        return cls(
            name=meta.name,
            version=meta.version,
            strategy_id=strategy_id(source, meta.version),
            source_sha256=source_sha256(source),
        )
