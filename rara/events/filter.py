"""Which events a read returns: one filter object shared by every reader of the log.

`EventStore.query`, `EventStore.iter_query`, the bus's subscriptions and `tail` all take an
`EventFilter`; paging (``after_seq``, ``limit``) stays with the call, since it moves while the
criteria stay put.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from rara.domain.events import EventPayload
from rara.errors import BadInput
from rara.events.model import check_type, parse_since

TypeSpec = str | type[EventPayload]


def type_names(types: TypeSpec | Iterable[TypeSpec] | None) -> tuple[str, ...] | None:
    """Type names from names or payload models; an empty tuple matches nothing."""
    if types is None:
        return None
    items = [types] if isinstance(types, str | type) else list(types)
    out: list[str] = []
    for t in items:
        if isinstance(t, type) and issubclass(t, EventPayload):
            t = t.event_type
        out.append(check_type(t))
    return tuple(out)


class EventFilter(BaseModel):
    """Every criterion given must hold. ``since`` is inclusive: an ISO-8601 time or a datetime
    (no zone means UTC), kept as the stored timestamp text."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    types: tuple[str, ...] | None = None
    correlation_id: str | None = None
    strategy_id: str | None = None
    since: str | None = None

    @field_validator("types", mode="before")
    @classmethod
    def _types(cls, value: Any) -> tuple[str, ...] | None:
        return type_names(value)

    @field_validator("since", mode="before")
    @classmethod
    def _since(cls, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str | datetime):
            raise BadInput("event_bad_since", f"since must be a time, got {value!r}")
        return parse_since(value)

    def where(self) -> tuple[list[str], list[Any]]:
        """SQL conditions (to be joined by AND) and their arguments."""
        where: list[str] = []
        args: list[Any] = []
        if self.types is not None:
            types = self.types
            where.append(f"type IN ({','.join('?' * len(types))})" if types else "0")
            args.extend(types)
        if self.correlation_id is not None:
            where.append("correlation_id = ?")
            args.append(self.correlation_id)
        if self.strategy_id is not None:
            where.append("strategy_id = ?")
            args.append(self.strategy_id)
        if self.since is not None:
            where.append("ts >= ?")  # fixed-width UTC text: string order is time order
            args.append(self.since)
        return where, args


EVERYTHING = EventFilter()
