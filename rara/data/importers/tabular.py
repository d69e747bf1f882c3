"""Reading candle tables: CSV and Parquet files, and any Arrow table's columns into `Candles`.

Finds the time column among common names, tells epoch seconds / milliseconds / microseconds /
nanoseconds apart by magnitude, parses ISO date strings, and reads the instrument hints rara and
the shared samples leave in a Parquet file's metadata. Every problem is a `BadInput` naming the
file, the column and the row.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from rara.data.catalog import META_KEY
from rara.domain.market import Candles, Timeframe, normalize_symbol
from rara.errors import BadInput

TIME_COLUMNS = ("ts", "timestamp", "time", "date", "datetime", "open_time")
OHLCV = ("open", "high", "low", "close", "volume")

CSV_EXTS = (".csv", ".tsv", ".txt")
PARQUET_EXTS = (".parquet", ".pq")

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

# Epoch magnitude boundaries: values below 1e11 are seconds (up to year 5138), below 1e14
# milliseconds, below 1e17 microseconds (Binance's 2025+ spot dumps), above that nanoseconds.
_EPOCH_UNITS = ((1e11, "s", 1000.0), (1e14, "ms", 1.0), (1e17, "us", 1e-3), (math.inf, "ns", 1e-6))
_MIN_EPOCH_S = 1e8  # 1973: anything smaller is a row index or a count, not a time

# ---- reading files ---------------------------------------------------------------------------


def _ext(path: Path) -> str:
    name = path.name.lower()
    return ".json.gz" if name.endswith(".json.gz") else path.suffix.lower()


def _check_utf8(path: Path) -> None:
    """Refuse a text file that is not UTF-8, naming the line: Arrow would otherwise read a bad
    header as undecodable column names and a bad cell as bytes. (A newline byte is never part
    of a multi-byte UTF-8 character, so each line decodes on its own.)"""
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                what = "the header (line 1)" if number == 1 else f"line {number}"
                raise BadInput(
                    "not_utf8",
                    f"{path}: {what} is not UTF-8 text (byte 0x{raw[exc.start]:02x})",
                    "save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8 IN.csv > OUT.csv`), "
                    "then import it again",
                ) from None


def _read_csv(path: Path) -> pa.Table:
    _check_utf8(path)
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        first = next((line for line in fh if line.strip()), "")
    if not first:
        raise BadInput("empty_file", f"{path} has no rows", "nothing to import")
    delim = ","
    if "," not in first:
        delim = ";" if ";" in first else "\t" if "\t" in first else ","
    cells = [c.strip().strip('"') for c in first.rstrip("\r\n").split(delim)]
    names = None
    if all(_is_number(c) for c in cells):
        # Headerless, the way exchanges publish kline dumps (data.binance.vision): time and
        # OHLCV first, then whatever else the venue adds.
        names = [*(["ts", *OHLCV][: len(cells)]), *(f"extra_{i}" for i in range(len(cells) - 6))]
    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(column_names=names),
        parse_options=pacsv.ParseOptions(delimiter=delim),
    )


def _meta_hints(kv: dict[bytes, bytes]) -> dict[str, Any]:
    """Instrument hints from a Parquet file written by rara (``rara``) or the shared samples
    (``ohlcv_meta``). Values that do not parse are dropped, not fatal: flags can still say."""
    raw = kv.get(META_KEY) or kv.get(b"ohlcv_meta")
    if not raw:
        return {}
    try:
        meta = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    out: dict[str, Any] = {}
    with contextlib.suppress(KeyError, ValueError):
        out["symbol"] = normalize_symbol(str(meta["symbol"]))
    with contextlib.suppress(KeyError, ValueError):
        out["timeframe"] = Timeframe.parse(str(meta["timeframe"]))
    # "binance (spot)" in the shared samples: keep the leading exchange id
    m = re.match(r"[a-z0-9_]{2,40}", str(meta.get("exchange", "")).strip().lower())
    if m:
        out["exchange"] = m.group(0)
    return out


def _parquet_instrument(path: Path) -> tuple[str, Timeframe] | None:
    """(symbol, timeframe) from a Parquet file's metadata, reading only its footer."""
    try:
        kv = pq.read_schema(path).metadata or {}
    except (pa.ArrowException, OSError) as exc:
        raise BadInput(
            "unreadable_file",
            f"{path} could not be read as parquet: {str(exc).splitlines()[0]}",
            "check that the file is complete and really Parquet",
        ) from exc
    meta = _meta_hints(kv)
    if "symbol" in meta and "timeframe" in meta:
        return meta["symbol"], meta["timeframe"]
    return None


def _candles_from_table(table: pa.Table, what: str) -> tuple[Candles, list[str]]:
    by_lower: dict[str, str] = {}
    for name in table.column_names:
        by_lower.setdefault(str(name).strip().lower(), name)
    time_col = next((by_lower[n] for n in TIME_COLUMNS if n in by_lower), None)
    missing = [c for c in OHLCV if c not in by_lower]
    if time_col is None or missing:
        need = ([] if time_col else ["a time column (" + " / ".join(TIME_COLUMNS) + ")"]) + missing
        raise BadInput(
            "missing_columns",
            f"{what} is missing {', '.join(need)}; it has: {', '.join(table.column_names)}",
            "the file needs a time column and open, high, low, close, volume (any case); "
            "rename the header to match",
        )
    notes: list[str] = []
    ts = _to_epoch_ms(table.column(time_col), what, time_col, notes)
    values = [_to_float(table.column(by_lower[c]), what, c) for c in OHLCV]
    return Candles(ts, *values), notes


def _to_float(col: pa.ChunkedArray, what: str, name: str) -> F64:
    try:
        arr = col.cast(pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        bad = next(
            (i for i, v in enumerate(col.to_pylist()) if v is not None and not _is_number(str(v))),
            None,
        )
        where = f" row {bad} ({col[bad].as_py()!r})" if bad is not None else ""
        raise BadInput(
            "bad_number",
            f"{what}: column {name}{where} is not a number",
            "repair or drop that row, then import again",
        ) from exc
    # nulls (empty cells, "NaN", "null") become NaN, which check_candles reports
    return np.asarray(arr.to_numpy(), dtype=np.float64)


def _to_epoch_ms(col: pa.ChunkedArray, what: str, name: str, notes: list[str]) -> I64:
    if col.null_count:
        i = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
        raise BadInput(
            "unparseable_timestamp",
            f"{what}: row {i} has no {name}",
            "every row needs a time; repair or drop that row",
        )
    t = col.type
    if pa.types.is_timestamp(t):
        # tz-naive timestamps hold wall-clock values; taking them as UTC means using them as is
        raw = col.cast(pa.int64()).to_numpy()
        per_ms = {"s": 1 / 1000, "ms": 1, "us": 1000, "ns": 1_000_000}[t.unit]
        if per_ms < 1:
            return np.asarray(raw, dtype=np.int64) * 1000
        return np.asarray(raw, dtype=np.int64) // int(per_ms)
    if pa.types.is_date32(t):
        return np.asarray(col.cast(pa.int32()).to_numpy(), dtype=np.int64) * 86_400_000
    if pa.types.is_date64(t):
        return np.asarray(col.cast(pa.int64()).to_numpy(), dtype=np.int64)
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return _epoch_numbers(
            np.asarray(col.to_numpy(), dtype=np.float64)
            if pa.types.is_floating(t)
            else np.asarray(col.to_numpy(), dtype=np.int64),
            what,
            name,
            notes,
        )
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return _parse_time_strings(col, what, name, notes)
    raise BadInput(
        "unparseable_timestamp",
        f"{what}: column {name} has type {t}, not a time",
        "use epoch seconds or milliseconds, or ISO dates like 2024-01-01T00:00:00Z",
    )


def _epoch_numbers(v: npt.NDArray[Any], what: str, name: str, notes: list[str]) -> I64:
    if v.dtype.kind == "f" and not np.all(np.isfinite(v)):
        i = int(np.flatnonzero(~np.isfinite(v))[0])
        raise BadInput(
            "unparseable_timestamp",
            f"{what}: row {i} {name} is {v[i]}",
            "every row needs a time; repair or drop that row",
        )
    lo, hi = float(np.min(v)), float(np.max(v))
    if lo < _MIN_EPOCH_S:
        i = int(np.argmin(v))
        raise BadInput(
            "unparseable_timestamp",
            f"{what}: row {i} {name} = {v[i]} is too small to be an epoch time",
            "times must be epoch seconds or milliseconds (or ISO dates); is this a row number?",
        )
    unit_lo = next(u for u in _EPOCH_UNITS if lo < u[0])
    unit_hi = next(u for u in _EPOCH_UNITS if hi < u[0])
    if unit_lo != unit_hi:
        raise BadInput(
            "unparseable_timestamp",
            f"{what}: column {name} mixes epoch units ({unit_lo[1]} and {unit_hi[1]})",
            "convert every time to one unit, e.g. epoch milliseconds",
        )
    _, unit, factor = unit_lo
    if unit != "ms":
        notes.append(f"{name} read as epoch {unit}")
    if v.dtype.kind == "i":
        if factor >= 1:
            return v.astype(np.int64) * int(factor)
        return v.astype(np.int64) // round(1 / factor)
    return np.round(v * factor).astype(np.int64)


def _parse_time_strings(col: pa.ChunkedArray, what: str, name: str, notes: list[str]) -> I64:
    # fast path: Arrow parses ISO 8601 with a zone; the slow path names the first bad row
    try:
        return np.asarray(
            col.cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64()).to_numpy(), dtype=np.int64
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    values = col.to_pylist()
    # a column of epoch numbers that Arrow read as text because one cell is not a number
    numeric = _is_number(values[0])
    nums = np.empty(len(values), dtype=np.float64)
    out = np.empty(len(values), dtype=np.int64)
    for i, s in enumerate(values):
        try:
            if numeric:
                nums[i] = float(s)
            else:
                out[i] = _parse_iso(s)
        except ValueError as exc:
            raise BadInput(
                "unparseable_timestamp",
                f"{what}: row {i} {name} {s!r} is not "
                + ("a number like the rows before it" if numeric else "a date or time"),
                "use ISO dates like 2024-01-01T00:00:00Z (UTC when no zone is given) or epoch "
                "seconds or milliseconds, one kind per file",
            ) from exc
    return _epoch_numbers(nums, what, name, notes) if numeric else out


def _parse_iso(text: str) -> int:
    t = text.strip()
    for suffix in (" UTC", " GMT", "UTC"):
        if t.endswith(suffix):
            t = t[: -len(suffix)].strip()
    if t.endswith(("Z", "z")):
        t = t[:-1] + "+00:00"
    dt = datetime.fromisoformat(t)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return round(dt.timestamp() * 1000)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
