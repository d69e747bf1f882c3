"""`rara events`: read, append to and verify the hash-chained event log in the state DB of the
home `$RARA_HOME` names (`Home.state_db`)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click
from pydantic import ValidationError

from rara.cli.output import emit, emit_lines
from rara.cli.params import DomainValueType
from rara.domain.events import EVENT_MODELS, EventPayload, StateRowRecorded
from rara.domain.market import parse_utc_datetime
from rara.errors import BadInput, Refused, nearest
from rara.events import EventDraft, EventFilter, VerifyReport, open_event_store, verify_path
from rara.events.model import check_type, payload_json, prepare_draft, validation_problems
from rara.home import Home

# `UTC_TIME` to the microsecond: event times are stored to the microsecond, and a bound copied
# from a printed event must select from that event on, not from its millisecond.
EVENT_TIME = DomainValueType(
    "utc_time",
    "date",
    parse_utc_datetime,
    "is not an ISO 8601 date or datetime",
    "use e.g. 2024-05-01, 2024-05-01T12:00:00Z or 2024-05-01T12:00:00+02:00",
    code="event_bad_since",  # the code `events query --since` has always given
)


class ChainBroken(Refused):
    """Verification failed; the error JSON carries the full report too, in one document."""

    def __init__(self, report: VerifyReport) -> None:
        problem = report.problem or ""
        where = f" at seq {report.first_bad_seq}" if report.first_bad_seq is not None else ""
        suggestion = (
            "stop writing to this log and investigate: restore rara.db from a backup, and use "
            "`rara events query --after-seq N` to inspect the events around the bad seq"
        )
        code = "event_chain_broken"
        if problem == "sqlite_error":
            code = "event_store_damaged"
        elif problem.startswith("row_"):
            code = "state_rows_altered"
            suggestion = (
                "a row users read no longer matches the digest sealed in the log when it was "
                "written: restore rara.db from a backup, and use `rara events query --type "
                "state_row_recorded` to see the seals"
            )
        elif problem == "anchor_missing":
            suggestion = (
                "if rara.db was copied or restored without rara.db.anchor beside it, copy that "
                "file along; otherwise treat the log as tampered and restore both from a backup"
            )
        super().__init__(code, f"event log failed verification{where}: {report.reason}", suggestion)
        self.report = report

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "report": self.report.model_dump()}


@click.command("query")
@click.option("--type", "types", multiple=True, metavar="T", help="Only events of type T; repeat.")
@click.option("--correlation-id", metavar="ID", help="Only events of this research run.")
@click.option("--strategy-id", metavar="ID", help="Only events of this strategy.")
@click.option(
    "--since",
    type=EVENT_TIME,
    metavar="TS",
    help="Only events at or after TS (ISO-8601; no zone means UTC).",
)
@click.option("--after-seq", type=click.IntRange(min=0), help="Only events with seq above N.")
@click.option("--limit", type=click.IntRange(min=1), help="At most N events.")
def query(
    types: tuple[str, ...],
    correlation_id: str | None,
    strategy_id: str | None,
    since: datetime | None,
    after_seq: int | None,
    limit: int | None,
) -> None:
    """Print matching events as NDJSON, one per line, oldest first."""
    # checked before the log is looked at, so bad input is reported even when there is none
    where = EventFilter(
        types=list(types) or None,
        correlation_id=correlation_id,
        strategy_id=strategy_id,
        since=since,
    )
    path = Home.from_env().state_db
    if not path.exists():
        return  # no log yet: zero events, and nothing created by a read
    with open_event_store(path, readonly=True) as store:
        rows = store.iter_query(where, after_seq=after_seq, limit=limit)
        emit_lines(ev.to_json_dict() for ev in rows)


@click.command("verify")
def verify() -> None:
    """Recompute every hash and link, check the head against its anchor file and re-hash every
    experiment and trial against its seal; exit 3 and say what was tampered with."""
    report = verify_path(Home.from_env().state_db)
    if not report.ok:
        raise ChainBroken(report)
    emit(report.model_dump())


@click.command("append")
@click.option("--type", "type_", required=True, metavar="T", help="A schema v1 event type.")
@click.option("--payload", default="{}", show_default=True, help="A JSON object fitting T.")
@click.option("--source", default="cli", show_default=True, help="Who emits the event.")
@click.option("--correlation-id", metavar="ID", help="The research run this belongs to.")
@click.option("--strategy-id", metavar="ID", help="The strategy this is about.")
@click.option("--event-id", metavar="ID", help="An explicit unique id (default: derived).")
def append(
    type_: str,
    payload: str,
    source: str,
    correlation_id: str | None,
    strategy_id: str | None,
    event_id: str | None,
) -> None:
    """Append one event and print it (with its seq and hash).

    The payload must fit the type's model (`rara.domain.events`); unknown types are refused.
    """
    body = _json_object(payload)
    draft = EventDraft(
        payload=_payload_model(type_, body),
        source=source,
        correlation_id=correlation_id,
        strategy_id=strategy_id,
        event_id=event_id,
    )
    prepare_draft(draft)  # reject bad input before creating or opening the log
    with open_event_store(Home.from_env().state_db) as store:
        ev = store.append_many([draft])[0]
    emit(ev.to_json_dict())


def _json_object(text: str) -> dict[str, Any]:
    """--payload as a plain JSON object (NaN and Infinity refused), or BadInput."""
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(
            "event_payload_invalid",
            f"--payload is not valid JSON: {exc}",
            'pass a JSON object, e.g. --payload \'{"symbol": "BTC/USDT"}\'',
        ) from exc
    payload_json(body)  # an object of plain JSON, or BadInput saying why not
    result: dict[str, Any] = body
    return result


def _payload_model(type_: str, body: dict[str, Any]) -> EventPayload:
    """The model of a known type built from `body`; BadInput for an unknown type or a misfit."""
    model = EVENT_MODELS.get(check_type(type_))
    if model is StateRowRecorded:
        raise BadInput(
            "event_type_reserved",
            f"{type_} events are written by rara's stores, in the transaction of the row they seal",
            "append another type; `rara events verify` checks the seals",
        )
    if model is None:
        guess = nearest(type_, EVENT_MODELS)
        raise BadInput(
            "event_type_unknown",
            f"event type {type_!r} is not in schema v1",
            (f"did you mean {guess}? " if guess else "")
            + "known types: "
            + ", ".join(EVENT_MODELS),
        )
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        hint = f"a {type_} payload has the fields {', '.join(model.model_fields)}"
        money = [n for n, f in model.model_fields.items() if "Decimal" in str(f.annotation)]
        if money:
            hint += f'; {", ".join(money)} are exact decimal strings, e.g. "0.0015"'
        raise BadInput(
            "event_payload_invalid",
            f"--payload does not fit {type_}: {validation_problems(exc)}",
            hint,
        ) from exc
