"""The event envelope, its canonical JSON and its hash: pure functions, no I/O.

Payloads are the typed models of `rara.domain.events` (schema v1): a draft carries one, the store
derives the event type from it, and `Event.typed()` gives it back.

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
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rara.domain.events import EVENT_TYPE_PATTERN, EventPayload, RawPayload, typed_payload
from rara.domain.market import parse_utc_datetime
from rara.errors import BadInput, RaraError

GENESIS_HASH = "0" * 64
EVENT_TYPE_RE = re.compile(EVENT_TYPE_PATTERN)
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


def check_type(type_: object) -> str:
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
        f'{{"correlation_id":{q(correlation_id)},"event_id":{q(event_id)},'
        f'"payload":{payload_text},"seq":{seq},"source":{q(source)},'
        f'"strategy_id":{q(strategy_id)},"ts":{q(ts)},"type":{q(type_)}}}'
    )


def chain_hash(prev_hash: str, envelope: str) -> str:
    return hashlib.sha256((prev_hash + envelope).encode("utf-8")).hexdigest()


class ChainedEvent(NamedTuple):
    """An event as the chain stores it: `envelope` is the canonical JSON its hash covers, so
    ``chain_hash(prev_hash, envelope) == hash`` (what `EventStore.query_chained` reads)."""

    seq: int
    event_id: str
    type: str
    ts: str
    source: str
    correlation_id: str | None
    strategy_id: str | None
    envelope: str
    prev_hash: str
    hash: str


class EventDraft(BaseModel):
    """What a caller supplies: a typed payload and the envelope fields the store cannot derive.

    The type is the payload model's ``event_type``; the store adds seq, ts, ids and hashes. A
    draft is checked when it is built (BadInput names the problem), so a bad one never reaches
    the store. When the payload declares a ``strategy_id`` field (order and feedback events),
    the envelope's strategy_id defaults to it and may not differ from it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    payload: SerializeAsAny[EventPayload]
    source: str
    correlation_id: str | None = None
    strategy_id: str | None = None
    event_id: str | None = None

    @property
    def event_type(self) -> str:
        return self.payload.event_type

    @field_validator("payload", mode="before")
    @classmethod
    def _typed_payload(cls, value: object) -> EventPayload:
        if not isinstance(value, EventPayload):
            raise BadInput(
                "event_payload_invalid",
                f"an event payload must be an EventPayload model, got {type(value).__name__}",
                "build it from its model in rara.domain.events, e.g. TradingOrderFilled(...)",
            )
        check_type(getattr(type(value), "event_type", None))
        return value

    @field_validator("source", mode="before")
    @classmethod
    def _source(cls, value: object) -> str | None:
        return check_text("source", value, optional=False)

    @field_validator("correlation_id", "strategy_id", "event_id", mode="before")
    @classmethod
    def _ids(cls, value: object, info: ValidationInfo) -> str | None:
        return check_text(str(info.field_name), value, optional=True)

    @model_validator(mode="before")
    @classmethod
    def _strategy_of_payload(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        payload = data.get("payload")
        if not isinstance(payload, EventPayload) or "strategy_id" not in type(payload).model_fields:
            return data
        own = getattr(payload, "strategy_id", None)
        given = data.get("strategy_id")
        if own is None or given == own:
            return data
        if given is None:
            return {**data, "strategy_id": own}
        raise BadInput(
            "event_field_invalid",
            f"strategy_id {given!r} differs from the payload's strategy_id {own!r}",
            "omit strategy_id: the envelope takes the payload's",
        )


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

    def typed(self) -> EventPayload | RawPayload:
        """The payload as its schema v1 model, or a `RawPayload` for a type unknown here.

        A known type whose stored payload does not fit its model raises RaraError
        ``event_payload_mismatch``: the log holds what this version cannot read as that type.
        """
        try:
            return typed_payload(self.type, self.payload)
        except ValidationError as exc:
            raise RaraError(
                "event_payload_mismatch",
                f"event seq {self.seq} ({self.type}) does not fit its model: "
                + validation_problems(exc),
                "read it as raw JSON (Event.payload); it was written outside schema v1",
            ) from exc


class RowProblem(BaseModel):
    """A row of a sealed table (`rara.events.seal`) that does not match the log."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    table: str
    row_id: str
    # row_changed | row_missing (sealed, now gone) | row_unsealed | row_sealed_twice
    problem: str
    seal_seq: int | None = None
    columns: list[str] = Field(default_factory=list, description="the columns that changed")

    def describe(self) -> str:
        what = {
            "row_changed": "changed",
            "row_missing": "was deleted",
            "row_unsealed": "has no seal (inserted outside rara)",
            "row_sealed_twice": "is sealed twice",
        }.get(self.problem, self.problem)
        text = f"{self.table} row {self.row_id} {what}"
        if self.columns:
            text += f" ({', '.join(self.columns)})"
        return text + (f", sealed at seq {self.seal_seq}" if self.seal_seq is not None else "")


class VerifyReport(BaseModel):
    """The outcome of walking the chain, checking its anchor and the sealed rows; `problem` is a
    stable code when not ok."""

    ok: bool
    events_checked: int
    first_bad_seq: int | None = None
    reason: str | None = None
    # hash_mismatch | prev_hash_mismatch | seq_gap | bad_row | triggers_missing | sqlite_error |
    # tail_truncated | anchor_mismatch | anchor_missing | anchor_unreadable | row_changed | ...
    problem: str | None = None
    last_seq: int = 0
    head_hash: str = GENESIS_HASH
    # "checked": the head reaches the anchor file's (seq, hash); "none": the log was never
    # anchored (empty, or written before anchoring; its next append anchors it)
    anchor: str = "none"
    anchor_seq: int | None = None
    rows_checked: int = 0  # rows of sealed tables re-hashed against their seals
    rows_not_covered: int = 0  # rows of a table written before seals, not yet adopted
    row_problems: list[RowProblem] = Field(default_factory=list)
    row_problem_count: int = 0

    def with_changes(self, **changes: Any) -> VerifyReport:
        """A copy with `changes` applied and validated (pydantic's model_copy with an update
        skips validation)."""
        return VerifyReport.model_validate({**self.model_dump(), **changes})


# A checked draft: type, canonical payload text, source, correlation_id, strategy_id, event_id.
Prepared = tuple[str, str, str, str | None, str | None, str | None]


def validation_problems(exc: ValidationError) -> str:
    """A pydantic error as one line a person can act on: field paths and messages, no URLs."""
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "payload"
        parts.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def prepare_draft(draft: EventDraft) -> Prepared:
    """Serialise a draft's payload; its fields were checked when it was built.

    Callers may use it to reject input before opening the store at all.
    """
    if not isinstance(draft, EventDraft):
        raise BadInput(
            "event_draft_invalid",
            f"an event draft must be an EventDraft, got {type(draft).__name__}",
            "build one: EventDraft(payload=TradingOrderFilled(...), source=...)",
        )
    return (
        draft.payload.event_type,
        payload_json(draft.payload.to_payload()),
        draft.source,
        draft.correlation_id,
        draft.strategy_id,
        draft.event_id,
    )
