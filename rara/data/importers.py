"""Candles from files: CSV, Parquet, and freqtrade data folders (``.feather``, ``.json``).

Importing is two phases so a bad file never leaves a half import behind:

1. `plan_import` reads and validates every file (columns, timestamps, grid, OHLC sanity through
   `rara.data.quality.check_candles`) and decides the instrument of each. Any problem raises
   `BadInput` naming the file and row, and nothing has been written.
2. `apply_import` writes the validated candles through `Catalog.write`, one instrument at a time.

Where the instrument comes from:

* a freqtrade folder (``user_data/data/binance``): symbol and timeframe from each file name
  (``BTC_USDT-1h.feather``, futures ``BTC_USDT_USDT-1h-futures.feather`` -> ``BTC/USDT:USDT``),
  exchange from the folder name (a ``futures`` folder counts as its parent). ``--symbol`` and
  ``--timeframe`` then act as filters, ``--exchange`` overrides.
* a single freqtrade file: the same, from its name and its folder; flags override.
* a CSV or Parquet file: ``--symbol`` and ``--timeframe`` flags, or the Parquet file's own ``rara``
  (catalog) or ``ohlcv_meta`` (shared samples) metadata. Without a timeframe it is inferred from the
  median step between rows, and the report says so.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pyarrow.parquet as pq

from rara.data.catalog import (
    META_KEY,
    Catalog,
    Interval,
    merge_intervals,
    period_bounds,
    periods_between,
    subtract_intervals,
    table_to_candles,
)
from rara.data.quality import check_candles, check_order, find_gaps
from rara.domain.market import (
    MS_PER_UNIT,
    Candles,
    Instrument,
    Timeframe,
    ms_to_iso,
    normalize_symbol,
)
from rara.errors import BadInput

log = logging.getLogger(__name__)

TIME_COLUMNS = ("ts", "timestamp", "time", "date", "datetime", "open_time")
OHLCV = ("open", "high", "low", "close", "volume")

CSV_EXTS = (".csv", ".tsv", ".txt")
PARQUET_EXTS = (".parquet", ".pq")
FEATHER_EXTS = (".feather", ".arrow", ".ipc")
JSON_EXTS = (".json", ".json.gz")
KNOWN_EXTS = CSV_EXTS + PARQUET_EXTS + FEATHER_EXTS + JSON_EXTS

# freqtrade: <pair with _ for / and :>-<timeframe>[-<candle type>].<ext>; see its IDataHandler.
FREQTRADE_NAME = re.compile(
    r"^(?P<pair>[A-Za-z0-9]+(?:_[A-Za-z0-9]+){1,2})-(?P<tf>\d+(?:Mo|[smhdwMy]))"
    r"(?:-(?P<ctype>[A-Za-z_]+))?\.(?P<ext>feather|json|json\.gz|parquet|h5)$"
)
# Candle types freqtrade stores beside real trade candles; they are not OHLCV of trades.
NON_TRADE_CANDLES = {"mark", "index", "premiumindex", "funding_rate"}

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

# Epoch magnitude boundaries: values below 1e11 are seconds (up to year 5138), below 1e14
# milliseconds, below 1e17 microseconds (Binance's 2025+ spot dumps), above that nanoseconds.
_EPOCH_UNITS = ((1e11, "s", 1000.0), (1e14, "ms", 1.0), (1e17, "us", 1e-3), (math.inf, "ns", 1e-6))
_MIN_EPOCH_S = 1e8  # 1973: anything smaller is a row index or a count, not a time


@dataclass
class ImportItem:
    """One file's candles, validated and ready to write."""

    inst: Instrument
    candles: Candles
    file: Path
    notes: list[str] = field(default_factory=list)

    @property
    def source(self) -> str:
        return f"import:{self.file.name}"


@dataclass
class Skipped:
    file: Path
    reason: str


@dataclass
class ImportPlan:
    path: Path
    kind: str  # csv | parquet | freqtrade-file | freqtrade-folder
    items: list[ImportItem] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


# ---- public entry points -------------------------------------------------------------------


def import_path(
    catalog: Catalog,
    path: Path,
    symbol: str | None = None,
    timeframe: str | None = None,
    exchange: str | None = None,
    default_exchange: str = "binance",
) -> dict[str, Any]:
    """Validate everything under ``path``, then write it; returns the JSON report."""
    plan = plan_import(path, symbol, timeframe, exchange, default_exchange)
    rows = apply_import(catalog, plan)
    return {
        "path": str(plan.path),
        "kind": plan.kind,
        "instruments": rows,
        "skipped": [{"file": str(s.file), "reason": s.reason} for s in plan.skipped],
        "totals": {k: sum(r[k] for r in rows) for k in ("rows", "added", "replaced", "unchanged")},
    }


def plan_import(
    path: Path,
    symbol: str | None = None,
    timeframe: str | None = None,
    exchange: str | None = None,
    default_exchange: str = "binance",
) -> ImportPlan:
    """Read and validate; raises `BadInput` on the first problem. Writes nothing."""
    path = Path(path).expanduser()
    if not path.exists():
        raise BadInput(
            "path_not_found",
            f"{path} does not exist",
            "give a CSV or Parquet file, a freqtrade data file, or a freqtrade data folder "
            "such as user_data/data/binance",
        )
    if path.is_dir():
        return _plan_folder(path, symbol, timeframe, exchange)
    return _plan_file(path, symbol, timeframe, exchange, default_exchange)


def apply_import(catalog: Catalog, plan: ImportPlan) -> list[dict[str, Any]]:
    """Write every planned item through `Catalog.write`; one report row per instrument.

    Rows already stored with identical values are counted as ``unchanged`` rather than
    ``replaced``, and when a file brings nothing new (same rows, source already recorded, range
    already covered) its period files are left untouched instead of being rewritten.
    """
    out = []
    for item in plan.items:
        inst, c = item.inst, item.candles
        covered = _runs(c.ts, inst.timeframe.ms)
        same, _differ, noop = compare_stored(catalog, inst, c, item.source, covered)
        if noop:
            periods: list[str] = []
            added, replaced, unchanged = 0, 0, same
        else:
            log.info("importing %s rows of %s from %s", len(c), inst.key, item.file)
            res = catalog.write(inst, c, item.source, covered=covered)
            periods = res.periods
            added = res.added
            # Catalog.write counts every overwritten row as replaced; split off the identical ones
            unchanged = min(same, res.replaced)
            replaced = res.replaced - unchanged
            if res.quarantined:
                item.notes.append(f"unreadable period files moved aside: {res.quarantined}")
        out.append(
            {
                "exchange": inst.exchange,
                "symbol": inst.symbol,
                "timeframe": str(inst.timeframe),
                "rows": len(c),
                "added": added,
                "replaced": replaced,
                "unchanged": unchanged,
                "written": not noop,
                "periods": periods,
                "range": [ms_to_iso(int(c.ts[0])), ms_to_iso(int(c.ts[-1]))],
                "file": str(item.file),
                "source": item.source,
                "notes": item.notes,
            }
        )
    return out


# ---- planning --------------------------------------------------------------------------------


def _plan_folder(
    folder: Path, symbol: str | None, timeframe: str | None, exchange: str | None
) -> ImportPlan:
    """Every freqtrade candle file under ``folder`` (and Parquet files whose metadata names their
    market, such as catalog period files or the shared samples), all validated before any is
    written."""
    plan = ImportPlan(folder, "freqtrade-folder")
    want_symbol = _parse_symbol(symbol) if symbol else None
    want_tf = _parse_timeframe(timeframe) if timeframe else None
    seen: dict[str, Path] = {}
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    for f in files:
        try:
            parsed = _freqtrade_name(f)
            if isinstance(parsed, str) and _ext(f) in PARQUET_EXTS:
                hint = _parquet_instrument(f)
                if hint is None:
                    parsed += "; a Parquet file without metadata naming its market"
                else:
                    parsed = hint
                    plan.kind = "folder"
            if isinstance(parsed, str):
                plan.skipped.append(Skipped(f, parsed))
                continue
            sym, tf = parsed
            if (want_symbol and sym != want_symbol) or (want_tf and tf != want_tf):
                plan.skipped.append(Skipped(f, "filtered out by --symbol/--timeframe"))
                continue
            item = _read_file(
                f,
                sym,
                tf,
                exchange,
                notes=[],
                default_exchange=_exchange_from_folder(f),
                default_why="taken from the folder name",
            )
        except BadInput as exc:
            # name the folder too, and say that the other files were not imported either
            raise BadInput(
                exc.code,
                f"{exc.message} (nothing was imported from {folder})",
                f"{exc.suggestion}; or move {f.name} out of the folder and import again",
            ) from exc
        if item.inst.key in seen:
            raise BadInput(
                "duplicate_instrument",
                f"{seen[item.inst.key]} and {f} both hold {item.inst.key}; nothing was imported",
                "keep one of them (freqtrade keeps one data format per folder), or import each "
                "file on its own",
            )
        seen[item.inst.key] = f
        plan.items.append(item)
    if not plan.items:
        raise BadInput(
            "nothing_to_import",
            f"{folder} holds no freqtrade candle files"
            + (" matching --symbol/--timeframe" if symbol or timeframe else ""),
            "freqtrade files are named like BTC_USDT-1h.feather or ETH_USDT-5m.json; for a CSV or "
            "Parquet file give its path, not its folder",
        )
    return plan


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


def _plan_file(
    path: Path,
    symbol: str | None,
    timeframe: str | None,
    exchange: str | None,
    default_exchange: str,
) -> ImportPlan:
    ext = _ext(path)
    if ext not in KNOWN_EXTS:
        raise BadInput(
            "unknown_file_type",
            f"{path.name}: cannot tell what kind of file this is ({ext or 'no extension'})",
            "import .csv, .parquet, or freqtrade .feather / .json / .json.gz files",
        )
    notes: list[str] = []
    sym = _parse_symbol(symbol) if symbol else None
    tf = _parse_timeframe(timeframe) if timeframe else None
    kind = "csv" if ext in CSV_EXTS else "parquet" if ext in PARQUET_EXTS else "freqtrade-file"
    if kind == "freqtrade-file":
        ft = _freqtrade_name(path)
        if isinstance(ft, str) and ft.startswith("not candles"):
            raise BadInput(
                "not_candles",
                f"{path.name}: {ft}",
                "import the file of trade candles (no -mark/-index/-funding_rate)",
            )
        if not isinstance(ft, str):
            sym, tf = sym or ft[0], tf or ft[1]
            guess = _exchange_from_folder(path)
            if exchange is None and _valid_exchange(guess):
                exchange = guess
                notes.append(f"exchange {guess!r} taken from the folder name; --exchange sets it")
    item = _read_file(path, sym, tf, exchange, notes, default_exchange, _symbol_hint(path))
    return ImportPlan(path, kind, [item])


def _read_file(
    path: Path,
    symbol: str | None,
    tf: Timeframe | None,
    exchange: str | None,
    notes: list[str],
    default_exchange: str = "binance",
    symbol_hint: str = "",
    default_why: str = "assumed (data.default_exchange)",
) -> ImportItem:
    """One file to validated candles. Instrument parts not given come from the file's metadata,
    then (exchange) the configured default, then (timeframe) the median step."""
    what = str(path)
    if path.stat().st_size == 0:
        raise BadInput("empty_file", f"{what} is empty", "check the export; nothing to import")
    ext = _ext(path)
    table = _read_table(path, ext, what)
    meta = _meta_hints(table.schema.metadata or {}) if ext in PARQUET_EXTS else {}
    for key, given in (("symbol", symbol), ("timeframe", tf), ("exchange", exchange)):
        if given is None and key in meta:
            notes.append(f"{key} {meta[key]} taken from the file's metadata")
    symbol = symbol or meta.get("symbol")
    tf = tf or meta.get("timeframe")
    exchange = exchange or meta.get("exchange")
    if exchange is None:
        exchange = default_exchange
        notes.append(f"exchange {exchange!r} {default_why}; pass --exchange to set it")
    if symbol is None:
        raise BadInput(
            "symbol_required",
            f"{what}: which market is this? the file does not say",
            f"pass --symbol{symbol_hint} (and --timeframe, or it is inferred)",
        )
    if table.num_rows == 0:
        raise BadInput("empty_file", f"{what} has a header but no rows", "nothing to import")
    candles, col_notes = _candles_from_table(table, what)
    notes.extend(col_notes)
    check_order(candles.ts, what)
    step = _median_step(candles.ts)
    if tf is None:
        tf = _infer_timeframe(step, what)
        notes.append(
            f"timeframe {tf} inferred from the median step between rows; pass --timeframe to set it"
        )
    elif step is not None and step != tf.ms:
        notes.append(
            f"the median step between rows is {_fmt_step(step)}, not {tf}: the data "
            f"has many gaps, or is not {tf} data"
        )
    check_candles(candles, tf, what)
    try:
        inst = Instrument(exchange=exchange, symbol=symbol, timeframe=tf)
    except ValueError as exc:
        raise BadInput(
            "bad_instrument",
            f"{what}: {str(exc).splitlines()[-1].strip()}",
            "exchange ids are lowercase letters, digits or _ (binance, kraken); pass --exchange",
        ) from exc
    return ImportItem(inst, candles, path, notes)


# ---- reading files ---------------------------------------------------------------------------


def _ext(path: Path) -> str:
    name = path.name.lower()
    return ".json.gz" if name.endswith(".json.gz") else path.suffix.lower()


def _read_table(path: Path, ext: str, what: str) -> pa.Table:
    try:
        if ext in CSV_EXTS:
            return _read_csv(path)
        if ext in PARQUET_EXTS:
            return pq.read_table(path)
        if ext in FEATHER_EXTS:
            return feather.read_table(path)
        return _read_json(path, ext, what)
    except BadInput:
        raise
    except (pa.ArrowException, OSError, ValueError, EOFError) as exc:
        raise BadInput(
            "unreadable_file",
            f"{what} could not be read as {ext.lstrip('.')}: {str(exc).splitlines()[0]}",
            "check that the file is complete and really of that type",
        ) from exc


def _read_csv(path: Path) -> pa.Table:
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


def _read_json(path: Path, ext: str, what: str) -> pa.Table:
    opener = gzip.open if ext == ".json.gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        try:
            data = json.load(fh)
        except json.JSONDecodeError as exc:
            raise BadInput(
                "unreadable_file",
                f"{what} is not valid JSON: {exc}",
                "check that the file is complete",
            ) from exc
    if not isinstance(data, list):
        raise BadInput(
            "unreadable_file",
            f"{what}: expected a JSON list of candles",
            "freqtrade .json data is a list of [ts_ms, open, high, low, close, volume]",
        )
    if not data:
        raise BadInput("empty_file", f"{what} holds no candles", "nothing to import")
    if all(isinstance(r, dict) for r in data):
        return pa.Table.from_pylist(data)
    cols: list[list[Any]] = [[] for _ in range(6)]
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) < 6:
            raise BadInput(
                "bad_row",
                f"{what}: row {i} is {json.dumps(row)[:80]}, "
                "not [ts, open, high, low, close, volume]",
                "freqtrade .json data is a list of [ts_ms, open, high, low, close, volume]",
            )
        for j in range(6):
            cols[j].append(row[j])
    try:
        arrays = [pa.array(cols[0])] + [pa.array(c, type=pa.float64()) for c in cols[1:]]
    except (pa.ArrowException, TypeError) as exc:
        raise BadInput(
            "bad_number",
            f"{what}: a value is not a number ({exc})",
            "repair the file, or re-download it with freqtrade",
        ) from exc
    return pa.Table.from_arrays(arrays, names=["ts", *OHLCV])


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


# ---- names, timeframes, exchanges ------------------------------------------------------------


def _freqtrade_name(path: Path) -> tuple[str, Timeframe] | str:
    """(symbol, timeframe) from a freqtrade file name, or the reason it is not importable."""
    m = FREQTRADE_NAME.match(path.name)
    if not m:
        return "not a freqtrade candle file name (like BTC_USDT-1h.feather)"
    ctype = (m.group("ctype") or "spot").lower()
    if ctype in NON_TRADE_CANDLES:
        return f"not candles of trades ({m.group('ctype')} candles)"
    if ctype not in ("spot", "futures"):
        return f"unknown freqtrade candle type {m.group('ctype')!r}"
    if m.group("ext") == "h5":
        return "HDF5 freqtrade data is not supported; convert it with `freqtrade convert-data`"
    parts = m.group("pair").upper().split("_")
    pair = f"{parts[0]}/{parts[1]}" + (f":{parts[2]}" if len(parts) == 3 else "")
    try:
        sym = normalize_symbol(pair)
        tf = Timeframe.parse(m.group("tf"))
    except ValueError as exc:
        return f"cannot be stored: {str(exc).splitlines()[-1].strip()}"
    return sym, tf


def _exchange_from_folder(path: Path) -> str:
    parent = path.parent
    if parent.name.lower() == "futures":  # freqtrade keeps futures under <exchange>/futures/
        parent = parent.parent
    return parent.name.lower()


def _valid_exchange(name: str) -> bool:
    return re.fullmatch(r"[a-z0-9_]{2,40}", name) is not None


def _symbol_hint(path: Path) -> str:
    """`` (e.g. --symbol BTC/USDT)`` when the file name suggests a symbol."""
    m = re.match(
        r"^([A-Z0-9]{2,10}?)[-_/]?(USDT|USDC|BUSD|USD|EUR|BTC|ETH)(?![A-Z])", path.stem.upper()
    )
    return f" (e.g. --symbol {m.group(1)}/{m.group(2)})" if m else ""


def _parse_symbol(text: str) -> str:
    try:
        return normalize_symbol(text)
    except ValueError as exc:
        raise BadInput(
            "bad_instrument",
            str(exc).splitlines()[-1].strip(),
            "symbols look like BTC/USDT (or BTC-USDT, BTC_USDT)",
        ) from exc


def _parse_timeframe(text: str) -> Timeframe:
    try:
        return Timeframe.parse(text)
    except ValueError as exc:
        raise BadInput(
            "bad_instrument",
            str(exc).splitlines()[-1].strip(),
            "timeframes look like 1m, 5m, 1h, 4h, 1d, 1w",
        ) from exc


def _median_step(ts: I64) -> int | None:
    if ts.size < 2:
        return None
    return int(np.median(np.diff(ts)))


def _infer_timeframe(step: int | None, what: str) -> Timeframe:
    if step is None:
        raise BadInput(
            "timeframe_required",
            f"{what}: one row is too few to infer the timeframe",
            "pass --timeframe",
        )
    for unit in ("w", "d", "h", "m"):
        n, rem = divmod(step, MS_PER_UNIT[unit])
        if rem == 0 and n >= 1:
            return Timeframe.parse(f"{n}{unit}")
    raise BadInput(
        "timeframe_required",
        f"{what}: the median step between rows ({step} ms) is not a whole number of minutes",
        "pass --timeframe; rara stores bars of whole minutes, hours, days or weeks",
    )


def _fmt_step(ms: int) -> str:
    for unit in ("w", "d", "h", "m"):
        if ms % MS_PER_UNIT[unit] == 0:
            return f"{ms // MS_PER_UNIT[unit]}{unit}"
    return f"{ms} ms"


# ---- comparing with what is stored -----------------------------------------------------------


def _runs(ts: I64, tf_ms: int) -> list[Interval]:
    """The contiguous stretches of ``ts`` as [start, end) intervals.

    Recorded as ``covered``: a file vouches only for the bars it holds, so a gap in an imported
    file stays fetchable instead of being marked as already asked of the exchange."""
    if ts.size == 0:
        return []
    starts = [int(ts[0])]
    ends = []
    for gs, ge in find_gaps(ts, tf_ms):
        ends.append(gs)
        starts.append(ge)
    ends.append(int(ts[-1]) + tf_ms)
    return list(zip(starts, ends, strict=True))


def compare_stored(
    catalog: Catalog,
    inst: Instrument,
    c: Candles,
    source: str,
    covered: list[Interval] | None = None,
) -> tuple[int, int, bool]:
    """(rows stored with identical values, rows stored with different values, nothing to do).

    Reads the period files the import touches as `Catalog.write` merges with them: the writable
    root's, else the embedded sample's; an unreadable file counts as nothing stored (write
    quarantines it). ``covered`` defaults to what `Catalog.write` records: first to last bar."""
    if covered is None:
        covered = [(int(c.ts[0]), int(c.ts[-1]) + inst.timeframe.ms)]
    touched = set(periods_between(int(c.ts[0]), int(c.ts[-1]) + 1, inst.timeframe))
    same = differ = 0
    sources_ok = True
    have: list[Interval] = []
    try:
        files = catalog.period_files(inst)
    except Exception:  # a damaged file: let Catalog.write deal with it
        return 0, 0, False
    for period in sorted(touched):
        pf = files.get(period)
        if pf is None:
            sources_ok = False
            continue
        # a period only the embedded sample holds is still written (into $RARA_HOME/data, to
        # record this source), but its identical rows count as unchanged, not added
        sources_ok &= not pf.embedded and source in pf.meta.get("sources", [])
        have += pf.covered
        try:
            old = table_to_candles(pq.read_table(pf.path))
        except (pa.ArrowException, OSError):
            return 0, 0, False
        ps, pe = period_bounds(period)
        lo, hi = np.searchsorted(c.ts, [ps, pe])
        new = c.slice(int(lo), int(hi))
        _, i_old, i_new = np.intersect1d(old.ts, new.ts, assume_unique=True, return_indices=True)
        eq = np.ones(i_old.size, dtype=bool)
        for col in Candles.COLUMNS[1:]:
            eq &= getattr(old, col)[i_old] == getattr(new, col)[i_new]
        same += int(eq.sum())
        differ += int((~eq).sum())
    covered_ok = all(not subtract_intervals(iv, merge_intervals(have)) for iv in covered)
    noop = same == len(c) and sources_ok and covered_ok
    return same, differ, noop
