"""The reply cache: every LLM round trip, recorded so a run can be replayed offline.

One diskcache directory (the loop uses ``$RARA_HOME/cache/llm``), three kinds of entry:

- a research run's call, under its step (`step_key`: run id, iteration, call number), one reply
  each; a redone iteration (after a crash) records over it. A replay looks replies up by step,
  so two runs with the same prompts, or runs replayed in any order, each get their own replies;
- a call made outside a run (`rara agent`), under a hash of (model, messages, purpose,
  json_mode) (`cache_key`): the list of replies, oldest first;
- a recorded run's config (`run_key`), so the run can be replayed in a fresh home; beside it the
  research state the run started from (`start_key`, a compressed SQLite file written by
  `rara.research.replay_state`) and the run hash it ended with (`hash_key`), so a replay judges
  as the original did and can tell whether it reproduced it.

Values are JSON text (the starting state: bytes) and the cache refuses pickled entries: a cache
directory is data, and loading it must never run code.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import diskcache
from pydantic import BaseModel

from rara.closing import Closing
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
    prompt_key: str | None = None  # `cache_key` of the request, to tell a replay that diverged


def step_key(run_id: str, iteration: int, number: int) -> str:
    return f"step1:{run_id}/{iteration}/{number}"


def run_key(run_id: str) -> str:
    return f"run1:{run_id}"


def start_key(run_id: str) -> str:
    return f"start1:{run_id}"


def hash_key(run_id: str) -> str:
    return f"hash1:{run_id}"


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


class ReplyCache(Closing):
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

    def put_step(self, key: str, record: Recorded) -> None:
        """The reply of one step of a run (`step_key`), replacing any earlier recording."""
        self._cache.set(key, json.dumps(record.model_dump(mode="json"), sort_keys=True))

    def get_step(self, key: str) -> Recorded | None:
        raw = self._read(key)
        return None if raw is None else Recorded.model_validate(raw)

    def put_run(self, run_id: str, config: dict[str, Any]) -> None:
        """A recorded run's config, for a replay in a home that never saw the run."""
        self._cache.set(run_key(run_id), json.dumps(config, sort_keys=True))

    def put_start(self, run_id: str, state: bytes) -> None:
        """The research state a recorded run started from (opaque bytes to the cache)."""
        self._cache.set(start_key(run_id), bytes(state))

    def get_start(self, run_id: str) -> bytes | None:
        raw = self._get(start_key(run_id))
        return bytes(raw) if isinstance(raw, bytes | bytearray) else None

    def put_run_hash(self, run_id: str, run_hash: str) -> None:
        """The run hash a recorded run ended with (its latest end, after a resume)."""
        self._cache.set(hash_key(run_id), json.dumps(run_hash))

    def get_run_hash(self, run_id: str) -> str | None:
        found = self._read(hash_key(run_id))
        return found if isinstance(found, str) else None

    def runs(self) -> dict[str, dict[str, Any]]:
        """Every recorded run's config, by run id."""
        prefix = run_key("")
        found: dict[str, dict[str, Any]] = {}
        for key in sorted(k for k in self._cache.iterkeys() if str(k).startswith(prefix)):
            config = self._read(str(key))
            if isinstance(config, dict):
                found[str(key)[len(prefix) :]] = config
        return found

    def __len__(self) -> int:
        return len(self._cache)

    def close(self) -> None:
        self._cache.close()

    def _load(self, key: str) -> list[dict[str, Any]]:
        data = self._read(key)
        return list(data) if isinstance(data, list) else []

    def _read(self, key: str) -> Any:
        raw = self._get(key)
        return None if raw is None else json.loads(raw)

    def _get(self, key: str) -> Any:
        try:
            return self._cache.get(key)
        except ValueError as exc:
            raise RaraError(
                "llm_cache_corrupt",
                f"the LLM reply cache at {self.directory} holds an entry rara did not write",
                "move the directory aside; it is only needed to replay earlier runs",
            ) from exc


class StepNumbers:
    """Numbers the calls of each (run, iteration) in the order they are made, giving each its
    `step_key`: the live provider records under it and the replay looks it up."""

    def __init__(self) -> None:
        self._made: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def next(self, run_id: str, iteration: int) -> str:
        with self._lock:
            n = self._made.get((run_id, iteration), 0)
            self._made[(run_id, iteration)] = n + 1
        return step_key(run_id, iteration, n)
