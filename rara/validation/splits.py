"""Time-ordered data splits: train / validation / holdout, and walk-forward windows.

Conventions:

- Everything works on an array of bar timestamps in epoch milliseconds (UTC), sorted
  non-decreasingly, and returns **index ranges** into it as half-open ``(start, stop)`` pairs:
  rows ``start, start + 1, ..., stop - 1``, i.e. ``array[start:stop]``.
- Segments are contiguous, in time order and cover every row: train starts at row 0, holdout ends
  at the last row. Rows sharing a timestamp always land in the same segment, so no instant is
  both trained on and held out.
- Dates are ISO 8601 strings (``2024-01-01`` or ``2024-01-01T12:00:00Z``), taken as UTC when
  they carry no zone, or `datetime` / `date` objects. A split date is the first instant of the
  later segment: rows with ``ts < validation_start`` are train, rows with
  ``validation_start <= ts < holdout_start`` validation, the rest holdout.
- Anything that cannot give three non-empty, ordered segments raises ValueError saying why.

The holdout is for the promotion decision only: search and tuning use train and validation, and
walk-forward windows should be built over ``range(split.holdout[0])`` (pass
``n_rows=split.holdout[0]``) so they never touch it.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, model_validator

from rara.domain.market import ms_to_iso, parse_utc

# Public API. The gate uses `time_split`; `walk_forward` and the `Split.*_slice` properties are
# offered to callers that index arrays by segment (the tests use them; no rara caller does yet).
__all__ = [
    "DEFAULT_FRACTIONS",
    "DateLike",
    "Range",
    "Split",
    "WalkForwardWindow",
    "split_by_dates",
    "split_by_fractions",
    "time_split",
    "walk_forward",
]

Range = tuple[int, int]
DateRange = tuple[str, str]
DateLike = str | datetime | date

# the gate's defaults (`ResearchGateSettings`, which says why validation gets the most)
DEFAULT_FRACTIONS: tuple[float, float, float] = (0.2, 0.6, 0.2)
_FRACTION_TOL = 1e-9


class Split(BaseModel):
    """A train / validation / holdout split as half-open row ranges plus their dates.

    ``train``, ``validation``, ``holdout``: ``(start, stop)`` rows, ``array[start:stop]``.
    ``train_dates`` etc.: ISO 8601 UTC timestamps of the segment's first and last row (both
    inclusive, since they are the bars actually in the segment).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    train: Range
    validation: Range
    holdout: Range
    train_dates: DateRange
    validation_dates: DateRange
    holdout_dates: DateRange

    @model_validator(mode="after")
    def _contiguous(self) -> Split:
        segments = {"train": self.train, "validation": self.validation, "holdout": self.holdout}
        for name, (start, stop) in segments.items():
            if not 0 <= start < stop:
                raise ValueError(f"{name} range ({start}, {stop}) must satisfy 0 <= start < stop")
        if self.train[1] != self.validation[0] or self.validation[1] != self.holdout[0]:
            raise ValueError(
                f"segments must be contiguous: train {self.train}, validation {self.validation}, "
                f"holdout {self.holdout}"
            )
        return self

    @property
    def n_rows(self) -> int:
        """Rows covered, from the start of train to the end of holdout."""
        return self.holdout[1] - self.train[0]

    @property
    def train_slice(self) -> slice:
        return slice(*self.train)

    @property
    def validation_slice(self) -> slice:
        return slice(*self.validation)

    @property
    def holdout_slice(self) -> slice:
        return slice(*self.holdout)


class WalkForwardWindow(BaseModel):
    """One walk-forward step: fit on ``train``, evaluate on ``test`` (half-open row ranges)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int
    train: Range
    test: Range


def _as_timestamps(timestamps: npt.ArrayLike) -> npt.NDArray[np.int64]:
    ts = np.asarray(timestamps)
    if ts.ndim != 1:
        raise ValueError(f"timestamps must be one-dimensional, got shape {ts.shape}")
    if ts.size < 3:
        raise ValueError(f"need at least 3 timestamps for three non-empty segments, got {ts.size}")
    if not np.issubdtype(ts.dtype, np.integer):
        raise ValueError(f"timestamps must be integer epoch milliseconds, got dtype {ts.dtype}")
    ts = ts.astype(np.int64, copy=False)
    if np.any(np.diff(ts) < 0):
        i = int(np.argmax(np.diff(ts) < 0))
        raise ValueError(
            f"timestamps must be sorted ascending: row {i + 1} ({ms_to_iso(int(ts[i + 1]))}) "
            f"comes before row {i} ({ms_to_iso(int(ts[i]))})"
        )
    return ts


def _to_ms(value: DateLike, name: str) -> int:
    if isinstance(value, datetime):
        dt = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return int(dt.timestamp() * 1000)
    if isinstance(value, date):
        return int(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp() * 1000)
    if not isinstance(value, str):
        raise ValueError(f"{name} must be an ISO 8601 string, datetime or date, got {value!r}")
    try:
        return parse_utc(value)
    except ValueError as exc:
        raise ValueError(f"{name} {value!r} is not an ISO 8601 date or datetime") from exc


def _build(ts: npt.NDArray[np.int64], val_start: int, hold_start: int) -> Split:
    n = int(ts.size)
    bounds = {
        "train": (0, val_start),
        "validation": (val_start, hold_start),
        "holdout": (hold_start, n),
    }
    for name, (start, stop) in bounds.items():
        if stop <= start:
            raise ValueError(
                f"the {name} segment would be empty (rows {start}:{stop} of {n}, data "
                f"{ms_to_iso(int(ts[0]))} .. {ms_to_iso(int(ts[-1]))})"
            )

    def dates(r: Range) -> DateRange:
        return ms_to_iso(int(ts[r[0]])), ms_to_iso(int(ts[r[1] - 1]))

    return Split(
        train=bounds["train"],
        validation=bounds["validation"],
        holdout=bounds["holdout"],
        train_dates=dates(bounds["train"]),
        validation_dates=dates(bounds["validation"]),
        holdout_dates=dates(bounds["holdout"]),
    )


def split_by_fractions(
    timestamps: npt.ArrayLike,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
) -> Split:
    """Split rows by ``(train, validation, holdout)`` fractions of the row count, in time order.

    Boundaries are ``floor(n · cumulative fraction)``, then moved back to the first row of their
    timestamp so equal timestamps stay together. Fractions must be positive and sum to 1
    (within 1e-9); every segment must end up non-empty.
    """
    ts = _as_timestamps(timestamps)
    if len(fractions) != 3:
        raise ValueError(f"fractions must be (train, validation, holdout), got {fractions!r}")
    if any(not (math.isfinite(f) and f > 0.0) for f in fractions):
        raise ValueError(f"each fraction must be a positive number, got {fractions!r}")
    total = math.fsum(fractions)
    if abs(total - 1.0) > _FRACTION_TOL:
        raise ValueError(f"fractions must sum to 1, got {fractions!r} (sum {total!r})")
    n = int(ts.size)
    cut = [math.floor(n * c + _FRACTION_TOL) for c in (fractions[0], fractions[0] + fractions[1])]
    snapped = [int(np.searchsorted(ts, ts[c], side="left")) if c < n else n for c in cut]
    return _build(ts, snapped[0], snapped[1])


def split_by_dates(
    timestamps: npt.ArrayLike, validation_start: DateLike, holdout_start: DateLike
) -> Split:
    """Split rows at two dates: train before ``validation_start``, holdout from ``holdout_start``.

    Both dates must be in order and inside the data (after the first timestamp, at or before the
    last), and each segment must contain at least one row.
    """
    ts = _as_timestamps(timestamps)
    v_ms = _to_ms(validation_start, "validation_start")
    h_ms = _to_ms(holdout_start, "holdout_start")
    first, last = int(ts[0]), int(ts[-1])
    if v_ms >= h_ms:
        raise ValueError(
            f"validation_start ({ms_to_iso(v_ms)}) must come before holdout_start "
            f"({ms_to_iso(h_ms)})"
        )
    for name, ms in (("validation_start", v_ms), ("holdout_start", h_ms)):
        if not first < ms <= last:
            raise ValueError(
                f"{name} {ms_to_iso(ms)} is outside the data: it must be after the first bar "
                f"{ms_to_iso(first)} and no later than the last bar {ms_to_iso(last)}"
            )
    v_idx = int(np.searchsorted(ts, v_ms, side="left"))
    h_idx = int(np.searchsorted(ts, h_ms, side="left"))
    return _build(ts, v_idx, h_idx)


def time_split(
    timestamps: npt.ArrayLike,
    fractions: tuple[float, float, float] | None = None,
    validation_start: DateLike | None = None,
    holdout_start: DateLike | None = None,
) -> Split:
    """Split by both dates if given, else by ``fractions`` (default 0.2 / 0.6 / 0.2).

    Giving fractions together with dates, or only one of the two dates, is a ValueError.
    """
    has_dates = (validation_start is not None, holdout_start is not None)
    if any(has_dates):
        if not all(has_dates):
            raise ValueError("give both validation_start and holdout_start, or neither")
        if fractions is not None:
            raise ValueError("give either fractions or dates, not both")
        assert validation_start is not None and holdout_start is not None
        return split_by_dates(timestamps, validation_start, holdout_start)
    return split_by_fractions(timestamps, fractions or DEFAULT_FRACTIONS)


def walk_forward(
    n_rows: int,
    train_size: int,
    test_size: int,
    step: int | None = None,
    *,
    anchored: bool = False,
    gap: int = 0,
) -> list[WalkForwardWindow]:
    """Walk-forward windows over rows ``0 .. n_rows - 1``, all sizes in rows.

    Window k (k = 0, 1, ...) tests on ``[o + train_size + gap, o + train_size + gap + test_size)``
    with ``o = k · step`` (``step`` defaults to ``test_size``, so test windows tile without
    overlap). Rolling windows train on ``[o, o + train_size)``; anchored windows train on
    ``[0, o + train_size)``, growing each step. ``gap`` rows between train and test are skipped
    (an embargo against leakage through overlapping labels or indicators). Windows are produced
    while the test range fits; a partial last test window is dropped. Validation is eager:
    sizes must be positive (gap non-negative) and at least one window must fit, or ValueError.
    """
    for name, v, low in (
        ("n_rows", n_rows, 1),
        ("train_size", train_size, 1),
        ("test_size", test_size, 1),
        ("gap", gap, 0),
    ):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
    step = test_size if step is None else step
    if isinstance(step, bool) or not isinstance(step, int | np.integer) or step < 1:
        raise ValueError(f"step must be an integer >= 1, got {step!r}")
    n_rows, train_size, test_size, gap, step = (
        int(n_rows),
        int(train_size),
        int(test_size),
        int(gap),
        int(step),
    )
    span = train_size + gap + test_size
    if span > n_rows:
        raise ValueError(
            f"no walk-forward window fits: train_size + gap + test_size = {span} > {n_rows} rows"
        )
    windows: list[WalkForwardWindow] = []
    offset = 0
    while offset + span <= n_rows:
        test_start = offset + train_size + gap
        train = (0 if anchored else offset, offset + train_size)
        windows.append(
            WalkForwardWindow(
                index=len(windows), train=train, test=(test_start, test_start + test_size)
            )
        )
        offset += step
    return windows
