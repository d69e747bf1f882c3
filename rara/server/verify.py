"""A stream client's own check of the events it receives: each event's hash is re-derived from
its canonical JSON and its prev_hash (``sha256(prev_hash + canonical_json)``, as
`rara.events.model.chain_hash`), its envelope must say the seq it arrived under, and an event
that follows the previous one received (seq + 1) must link to its hash. A filtered stream
skips seqs; each event is still checked on its own, and links where the seqs are adjacent.

Plain fields, no grpc: the TUI and tests hand in what a `rara.v1.Event` carries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from rara.events.model import chain_hash


class ChainBroken(Exception):
    """A received event does not verify: the server, the wire or the log is not to be trusted."""

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"event seq {seq}: {reason}")
        self.seq = seq
        self.reason = reason


@dataclass
class ChainCheck:
    """Feed it every event received, in order; it raises `ChainBroken` at the first bad one."""

    last_seq: int = 0
    last_hash: str | None = None
    checked: int = 0

    def check(self, seq: int, canonical_json: str, prev_hash: str, hash_: str) -> None:
        if chain_hash(prev_hash, canonical_json) != hash_:
            raise ChainBroken(seq, "its hash does not match its canonical JSON and prev_hash")
        try:
            claimed = json.loads(canonical_json).get("seq")
        except (ValueError, AttributeError):
            raise ChainBroken(seq, "its canonical JSON is not an object") from None
        if claimed != seq:
            raise ChainBroken(seq, f"its canonical JSON says seq {claimed}")
        if seq <= self.last_seq:
            raise ChainBroken(seq, f"it came after seq {self.last_seq}: a duplicate or reorder")
        if seq == self.last_seq + 1 and self.last_hash is not None and prev_hash != self.last_hash:
            raise ChainBroken(seq, f"it does not link to the hash of seq {self.last_seq}")
        self.last_seq, self.last_hash = seq, hash_
        self.checked += 1
