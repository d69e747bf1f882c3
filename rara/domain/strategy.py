"""Strategy identity: one stable id per (source, version) that travels through every event."""

from __future__ import annotations

import hashlib


def source_sha256(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def strategy_id(source: str, version: str) -> str:
    """Content hash of the source and its declared version, e.g. ``st_3f9a...`` (16 hex)."""
    digest = hashlib.sha256(f"{version}\n{source}".encode()).hexdigest()
    return f"st_{digest[:16]}"
