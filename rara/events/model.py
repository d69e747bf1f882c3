"""The event envelope, its canonical JSON and its hash: pure functions, no I/O.

The hash of an event is ``sha256(prev_hash + canonical_json(envelope))`` where the envelope is
every field except ``prev_hash`` and ``hash`` themselves: seq, event_id, type, ts, source,
correlation_id, strategy_id and payload. Canonical JSON is ``json.dumps`` with sorted keys, no
whitespace, UTF-8 kept as is and NaN/Infinity refused, so the same inputs always give the same
hash on any machine.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rara.errors import BadInput

GENESIS_HASH = "0" * 64
# snake_case, starting with a letter: research_hypothesis_created, trading_order_filled.
EVENT_TYPE_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
MAX_TYPE_LEN = 100
MAX_ID_LEN = 200
# Fixed namespace so default event ids are a pure function of (prev_hash, seq).
EVENT_ID_NAMESPACE = uuid.UUID("8f0c5a8e-2b4e-5d0a-9a57-726172616576")
_TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")

# One encoder instance: cheaper than json.dumps(**kwargs) on the hot path.
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_json(obj: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 as is, NaN refused. Raises TypeError/ValueError."""
    return _ENCODER.encode(obj)


def payload_json(payload: Any) -> str:
    """A payload's canonical text, or BadInput saying why it cannot be stored."""
    if not isinstance(payload, dict):
        raise BadInput(
            "event_payload_invalid",
            f"an event payload must be a JSON object (a dict), got {type(payload).__name__}",
            'wrap the value, e.g. {"value": ...}',
        )
    try:
        text = _ENCODER.encode(payload)
        text.encode("utf-8")  # lone surrogates would only fail later, inside the transaction
    except ValueError as exc:  # NaN / Infinity, circular references, bad unicode
        raise BadInput(
            "event_payload_invalid",
            f"event payload is not valid JSON: {exc}",
            "replace NaN/Infinity with null or a string; payloads must be plain JSON",
        ) from exc
    except TypeError as exc:  # sets, datetimes, Decimals, mixed-type keys...
        raise BadInput(
            "event_payload_invalid",
            f"event payload is not JSON-serialisable: {exc}",
            "convert the value to str, int, float, bool, None, list or dict first",
        ) from exc
    return text


def check_type(type_: str) -> str:
    if not isinstance(type_, str) or len(type_) > MAX_TYPE_LEN or not EVENT_TYPE_RE.match(type_):
        raise BadInput(
            "event_type_invalid",
            f"event type {type_!r} is not a snake_case name",
            "use lower-case words joined by underscores, e.g. trading_order_filled",
        )
    return type_


def check_text(field: str, value: Any, *, optional: bool) -> str | None:
    """Source, correlation and strategy ids, event ids: non-empty UTF-8 strings."""
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LEN:
        raise BadInput(
            "event_field_invalid",
            f"event {field} must be a non-empty string of at most {MAX_ID_LEN} characters, "
            f"got {value!r}",
            f"pass a short identifier as {field}",
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadInput("event_field_invalid", f"event {field} is not valid UTF-8: {exc}") from exc
    return value


def format_ts(dt: datetime) -> str:
    """UTC ISO-8601 with microseconds and a trailing Z; fixed width, so text order = time order."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise BadInput(
            "event_clock_naive",
            f"timestamp {dt!r} has no time zone",
            "the event clock must return an aware datetime, e.g. datetime.now(UTC)",
        )
    return dt.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_since(value: datetime | str) -> str:
    """A lower time bound as stored text; a naive time or a bare date is taken as UTC."""
    if isinstance(value, datetime):
        dt = value
    else:
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError as exc:
            raise BadInput(
                "event_bad_since",
                f"{value!r} is not an ISO-8601 time",
                "use e.g. 2024-05-01, 2024-05-01T12:00:00Z or 2024-05-01T12:00:00+02:00",
            ) from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return format_ts(dt)


def default_event_id(prev_hash: str, seq: int) -> str:
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{prev_hash}:{seq}"))


def envelope_json(
    seq: int,
    event_id: str,
    type_: str,
    ts: str,
    source: str,
    correlation_id: str | None,
    strategy_id: str | None,
    payload_text: str,
) -> str:
    """canonical_json(envelope) built around the already-canonical payload text.

    Equal to ``canonical_json({..., "payload": json.loads(payload_text)})`` (a test proves it)
    but it serialises the payload once, and it lets verify() hash the stored bytes as they are.
    """
    enc = _ENCODER.encode
    return (
        '{"correlation_id":' + enc(correlation_id)
        + ',"event_id":' + enc(event_id)
        + ',"payload":' + payload_text
        + ',"seq":' + str(seq)
        + ',"source":' + enc(source)
        + ',"strategy_id":' + enc(strategy_id)
        + ',"ts":' + enc(ts)
        + ',"type":' + enc(type_)
        + "}"
    )  # fmt: skip


def chain_hash(prev_hash: str, envelope: str) -> str:
    return hashlib.sha256((prev_hash + envelope).encode("utf-8")).hexdigest()


class EventDraft(BaseModel):
    """What a caller supplies; the store adds seq, ts, ids and hashes."""

    model_config = ConfigDict(frozen=True)

    type: str
    payload: dict[str, Any] = Field(default_factory=dict)
    source: str
    correlation_id: str | None = None
    strategy_id: str | None = None
    event_id: str | None = None


class Event(BaseModel):
    """One stored event: the envelope plus its place in the hash chain."""

    model_config = ConfigDict(frozen=True)

    seq: int
    event_id: str
    type: str
    ts: str
    source: str
    correlation_id: str | None = None
    strategy_id: str | None = None
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    @field_validator("ts")
    @classmethod
    def _check_ts(cls, v: str) -> str:
        if not _TS_RE.match(v):
            raise ValueError(f"ts {v!r} is not like 2024-05-01T12:00:00.000000Z")
        return v

    @property
    def timestamp(self) -> datetime:
        return datetime.fromisoformat(self.ts[:-1]).replace(tzinfo=UTC)

    def envelope(self) -> dict[str, Any]:
        """The hashed part: every field but prev_hash and hash."""
        return self.model_dump(exclude={"prev_hash", "hash"})

    def computed_hash(self) -> str:
        return chain_hash(self.prev_hash, canonical_json(self.envelope()))

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class VerifyReport(BaseModel):
    """The outcome of walking the chain; `problem` is a stable code when not ok."""

    ok: bool
    events_checked: int
    first_bad_seq: int | None = None
    reason: str | None = None
    problem: str | None = None  # hash_mismatch | prev_hash_mismatch | seq_gap | bad_row | ...
    last_seq: int = 0
    head_hash: str = GENESIS_HASH


def coerce_draft(draft: EventDraft | Mapping[str, Any]) -> EventDraft:
    if isinstance(draft, EventDraft):
        return draft
    if not isinstance(draft, Mapping):
        raise BadInput(
            "event_draft_invalid",
            f"an event draft must be an EventDraft or a mapping, got {type(draft).__name__}",
        )
    unknown = set(draft) - set(EventDraft.model_fields)
    if unknown:
        raise BadInput(
            "event_draft_invalid",
            f"unknown event draft field(s): {', '.join(sorted(map(str, unknown)))}",
            f"allowed: {', '.join(EventDraft.model_fields)}",
        )
    # model_construct: the store validates every field itself, with clearer messages.
    return EventDraft.model_construct(**{k: draft[k] for k in draft})
