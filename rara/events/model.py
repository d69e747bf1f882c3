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
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rara.domain.market import parse_utc_datetime
from rara.errors import BadInput

GENESIS_HASH = "0" * 64
# snake_case, starting with a letter: research_hypothesis_created, trading_order_filled.
EVENT_TYPE_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
MAX_TYPE_LEN = 100
MAX_ID_LEN = 200
_SEQ_SPAN = 1 << 48  # seqs held in a default event id; 2.8e14 events is beyond any log here
# RFC 9562 variant: the top two bits of the id's 17th hex digit are 10, so 8, 9, a or b.
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}
TS_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"

# One encoder instance: cheaper than json.dumps(**kwargs) on the hot path.
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
# The C function _ENCODER uses for a str (ensure_ascii=False), called without the dispatch.
_encode_str: Callable[[str], str] = json.encoder.encode_basestring


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
    if dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    return dt.isoformat(timespec="microseconds")[:-6] + "Z"  # "+00:00" -> "Z"


def parse_since(value: datetime | str) -> str:
    """A lower time bound as stored text; a naive time or a bare date is taken as UTC."""
    if isinstance(value, datetime):
        dt = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    else:
        try:
            dt = parse_utc_datetime(value)
        except ValueError as exc:
            raise BadInput(
                "event_bad_since",
                f"{value!r} is not an ISO-8601 time",
                "use e.g. 2024-05-01, 2024-05-01T12:00:00Z or 2024-05-01T12:00:00+02:00",
            ) from exc
    return format_ts(dt)


def default_event_id(prev_hash: str, seq: int) -> str:
    """A UUIDv8 (RFC 9562) whose top 48 bits are the seq and the rest a hash of (prev_hash, seq).

    Deterministic, unique across logs, and ordered like seq. The order matters: random ids
    (uuid4/uuid5) land all over the UNIQUE index, so each batch dirtied most index pages and
    commits wrote several times more WAL; seq-ordered ids append at the index's right edge.
    """
    h = hashlib.sha256(f"{prev_hash}:{seq}".encode()).hexdigest()
    x = f"{seq % _SEQ_SPAN:012x}8{h[:3]}{_VARIANT[h[3]]}{h[4:19]}"  # 8: version, then variant
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def _json_str(v: str | None) -> str:
    # What _ENCODER.encode gives for a str or None, minus the Python-level dispatch.
    return "null" if v is None else _encode_str(v)


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
    q = _json_str
    return (
        '{"correlation_id":' + q(correlation_id)
        + ',"event_id":' + q(event_id)
        + ',"payload":' + payload_text
        + ',"seq":' + str(seq)
        + ',"source":' + q(source)
        + ',"strategy_id":' + q(strategy_id)
        + ',"ts":' + q(ts)
        + ',"type":' + q(type_)
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
    # A pattern, not a Python validator: checked in pydantic-core, cheap on the read path.
    ts: str = Field(pattern=TS_PATTERN, description="UTC, e.g. 2024-05-01T12:00:00.000000Z")
    source: str
    correlation_id: str | None = None
    strategy_id: str | None = None
    payload: dict[str, Any]
    prev_hash: str
    hash: str

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


DraftFields = tuple[Any, Any, Any, Any, Any, Any]  # type, payload, source, cid, sid, event_id
# A checked draft: type, canonical payload text, source, correlation_id, strategy_id, event_id.
Prepared = tuple[str, str, str, str | None, str | None, str | None]
_DRAFT_KEYS = frozenset(("type", "payload", "source", "correlation_id", "strategy_id", "event_id"))


def draft_fields(draft: EventDraft | Mapping[str, Any]) -> DraftFields:
    """The raw fields of a draft, unvalidated (the store checks each with a clear message).

    Mappings are read directly rather than through EventDraft: building a model per event
    would cost a quarter of the batched append budget.
    """
    if isinstance(draft, EventDraft):
        d = draft
        return d.type, d.payload, d.source, d.correlation_id, d.strategy_id, d.event_id
    if not isinstance(draft, Mapping):
        raise BadInput(
            "event_draft_invalid",
            f"an event draft must be an EventDraft or a mapping, got {type(draft).__name__}",
        )
    if not _DRAFT_KEYS.issuperset(draft):
        unknown = sorted(map(str, set(draft) - _DRAFT_KEYS))
        raise BadInput(
            "event_draft_invalid",
            f"unknown event draft field(s): {', '.join(unknown)}",
            f"allowed: {', '.join(EventDraft.model_fields)}",
        )
    g = draft.get
    return (
        g("type"),
        g("payload", {}),
        g("source"),
        g("correlation_id"),
        g("strategy_id"),
        g("event_id"),
    )


def prepare_draft(draft: EventDraft | Mapping[str, Any]) -> Prepared:
    """Check every field and serialise the payload; BadInput names the first problem.

    Callers may use it to reject input before opening the store at all.
    """
    type_, payload, source, cid, sid, eid = draft_fields(draft)
    return (
        check_type(type_),
        payload_json(payload),
        check_text("source", source, optional=False) or "",
        check_text("correlation_id", cid, optional=True),
        check_text("strategy_id", sid, optional=True),
        check_text("event_id", eid, optional=True),
    )
