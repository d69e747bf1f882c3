"""The reply cache: every LLM round trip, recorded so a run can be replayed offline.

One diskcache directory (the loop uses ``$RARA_HOME/cache/llm``). The key is a hash of
(model, messages, purpose, json_mode); the value is the list of replies recorded under that key,
oldest first, so a prompt asked twice in one run replays its two answers in order. Values are
JSON text and the cache refuses pickled entries: a cache directory is data, and loading it must
never run code.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import diskcache
from pydantic import BaseModel

from rara.errors import RaraError

RECORD_VERSION = 1


class Recorded(BaseModel):
    """One recorded round trip. Holds the reply text, never the key or the request headers."""

    v: int = RECORD_VERSION
    model: str
    purpose: str
    json_mode: bool
    text: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    cost_usd: float = 0.0
    cost_note: str | None = None
    error: dict[str, str] | None = None  # a failed call replays as the same failure


def cache_key(model: str, messages: list[dict[str, str]], purpose: str, json_mode: bool) -> str:
    canonical = json.dumps(
        {"model": model, "messages": messages, "purpose": purpose, "json_mode": json_mode},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return "llm1:" + hashlib.sha256(canonical.encode()).hexdigest()


class _NoPickleDisk(diskcache.Disk):  # type: ignore[misc]
    """diskcache unpickles values stored in pickle mode; we store only text, so any pickled
    entry is foreign and is refused instead of loaded."""

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
        if mode == diskcache.core.MODE_PICKLE:
            raise ValueError("refusing a pickled entry in the LLM reply cache")
        return super().fetch(mode, filename, value, read)


class ReplyCache:
    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._cache = diskcache.Cache(str(self.directory), disk=_NoPickleDisk)

    def append(self, key: str, record: Recorded) -> None:
        """Add one reply under key; atomic across threads and processes sharing the cache."""
        with self._cache.transact():
            records = self._load(key)
            records.append(record.model_dump(mode="json"))
            self._cache.set(key, json.dumps(records, ensure_ascii=False, sort_keys=True))

    def get(self, key: str) -> list[Recorded]:
        return [Recorded.model_validate(r) for r in self._load(key)]

    def __len__(self) -> int:
        return len(self._cache)

    def close(self) -> None:
        self._cache.close()

    def _load(self, key: str) -> list[dict[str, Any]]:
        try:
            raw = self._cache.get(key)
        except ValueError as exc:
            raise RaraError(
                "llm_cache_corrupt",
                f"the LLM reply cache at {self.directory} holds an entry rara did not write",
                "move the directory aside; it is only needed to replay earlier runs",
            ) from exc
        if raw is None:
            return []
        data = json.loads(raw)
        return list(data) if isinstance(data, list) else []
