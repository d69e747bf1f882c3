"""Time arithmetic of the catalog: half-open intervals of epoch ms and the periods (a month below
1h bars, else a year) that partition candle files."""

from __future__ import annotations

from datetime import UTC, datetime

from rara.domain.market import Timeframe
from rara.errors import BadInput

Interval = tuple[int, int]  # [start_ms, end_ms)


def as_timeframe(value: Timeframe | str) -> Timeframe:
    """A `Timeframe` as is; text (from library callers: the CLI hands in parsed values) parsed
    with the same rules, a bad one refused as ``bad_timeframe``."""
    if isinstance(value, Timeframe):
        return value
    try:
        return Timeframe.parse(value)
    except ValueError as exc:
        raise BadInput(
            "bad_timeframe",
            f"timeframe {value!r} is not like 1m, 1h or 1d",
            "bar lengths are 1m, 5m, 15m, 1h, 4h, 1d or 1w",
        ) from exc


def merge_intervals(intervals: list[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        elif e > s:
            out.append((s, e))
    return out


def subtract_intervals(want: Interval, have: list[Interval]) -> list[Interval]:
    """Parts of ``want`` not inside any of ``have``."""
    todo = [want]
    for hs, he in merge_intervals(have):
        nxt: list[Interval] = []
        for s, e in todo:
            if he <= s or hs >= e:
                nxt.append((s, e))
                continue
            if s < hs:
                nxt.append((s, hs))
            if he < e:
                nxt.append((he, e))
        todo = nxt
    return todo


def period_of(ms: int, tf: Timeframe) -> str:
    d = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return f"{d.year:04d}-{d.month:02d}" if tf.period_kind == "month" else f"{d.year:04d}"


def period_bounds(period: str) -> Interval:
    if len(period) == 7:
        y, m = int(period[:4]), int(period[5:])
        start = datetime(y, m, 1, tzinfo=UTC)
        end = datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=UTC)
    else:
        y = int(period)
        start, end = datetime(y, 1, 1, tzinfo=UTC), datetime(y + 1, 1, 1, tzinfo=UTC)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def periods_between(start_ms: int, end_ms: int, tf: Timeframe) -> list[str]:
    out: list[str] = []
    t = start_ms
    while t < end_ms:
        p = period_of(t, tf)
        out.append(p)
        t = period_bounds(p)[1]
    return out
