"""Phase one of an import: read and validate every file and decide its instrument.

`plan_import` writes nothing; the first problem raises `BadInput` naming the file and row, so a
folder with one bad file is not imported at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq

from rara.data.importers.freqtrade import (
    FEATHER_EXTS,
    JSON_EXTS,
    _exchange_from_folder,
    _freqtrade_name,
    _read_json,
    _valid_exchange,
)
from rara.data.importers.tabular import (
    CSV_EXTS,
    I64,
    PARQUET_EXTS,
    _candles_from_table,
    _ext,
    _meta_hints,
    _parquet_instrument,
    _read_csv,
)
from rara.data.quality import check_candles, check_order
from rara.domain.market import MS_PER_UNIT, Candles, Instrument, Timeframe, normalize_symbol
from rara.errors import BadInput

KNOWN_EXTS = CSV_EXTS + PARQUET_EXTS + FEATHER_EXTS + JSON_EXTS


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


def plan_import(
    path: Path,
    symbol: str | None = None,
    timeframe: Timeframe | str | None = None,
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


class PartRequired(BadInput):
    """The file does not say its symbol or timeframe, and none was given. ``part`` names which
    (``symbol`` or ``timeframe``) and ``example`` is a value the file name suggests, if any, so a
    caller can say how its users give one."""

    def __init__(self, part: str, example: str, message: str, suggestion: str) -> None:
        super().__init__(f"{part}_required", message, suggestion)
        self.part = part
        self.example = example


# ---- planning --------------------------------------------------------------------------------


def _plan_folder(
    folder: Path, symbol: str | None, timeframe: Timeframe | str | None, exchange: str | None
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
                plan.skipped.append(Skipped(f, "filtered out: another symbol or timeframe"))
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
            + (" matching the symbol/timeframe asked for" if symbol or timeframe else ""),
            "freqtrade files are named like BTC_USDT-1h.feather or ETH_USDT-5m.json; for a CSV or "
            "Parquet file give its path, not its folder",
        )
    return plan


def _plan_file(
    path: Path,
    symbol: str | None,
    timeframe: Timeframe | str | None,
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
                notes.append(
                    f"exchange {guess!r} taken from the folder name; naming one overrides it"
                )
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
        notes.append(f"exchange {exchange!r} {default_why}; name the exchange to set it")
    if symbol is None:
        raise PartRequired(
            "symbol",
            symbol_hint,
            f"{what}: which market is this? the file does not say",
            f"name the symbol{f', e.g. {symbol_hint}' if symbol_hint else ''} "
            "(and the timeframe, or it is inferred)",
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
            f"timeframe {tf} inferred from the median step between rows; name one to set it"
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
            "exchange ids are lowercase letters, digits or _ (binance, kraken)",
        ) from exc
    return ImportItem(inst, candles, path, notes)


# ---- reading files ---------------------------------------------------------------------------


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


# ---- symbols and timeframes ------------------------------------------------------------------


def _symbol_hint(path: Path) -> str:
    """``BTC/USDT`` when the file name suggests that symbol, else ``""``."""
    m = re.match(
        r"^([A-Z0-9]{2,10}?)[-_/]?(USDT|USDC|BUSD|USD|EUR|BTC|ETH)(?![A-Z])", path.stem.upper()
    )
    return f"{m.group(1)}/{m.group(2)}" if m else ""


def _parse_symbol(text: str) -> str:
    try:
        return normalize_symbol(text)
    except ValueError as exc:
        raise BadInput(
            "bad_symbol",
            str(exc).splitlines()[-1].strip(),
            "symbols look like BTC/USDT (or BTC-USDT, BTC_USDT)",
        ) from exc


def _parse_timeframe(text: Timeframe | str) -> Timeframe:
    if isinstance(text, Timeframe):  # parsed at the edge already
        return text
    try:
        return Timeframe.parse(text)
    except ValueError as exc:
        raise BadInput(
            "bad_timeframe",
            str(exc).splitlines()[-1].strip(),
            "timeframes look like 1m, 5m, 1h, 4h, 1d, 1w",
        ) from exc


def _median_step(ts: I64) -> int | None:
    if ts.size < 2:
        return None
    return int(np.median(np.diff(ts)))


def _infer_timeframe(step: int | None, what: str) -> Timeframe:
    if step is None:
        raise PartRequired(
            "timeframe",
            "",
            f"{what}: one row is too few to infer the timeframe",
            "name the timeframe, e.g. 1h",
        )
    for unit in ("w", "d", "h", "m"):
        n, rem = divmod(step, MS_PER_UNIT[unit])
        if rem == 0 and n >= 1:
            return Timeframe.parse(f"{n}{unit}")
    raise PartRequired(
        "timeframe",
        "",
        f"{what}: the median step between rows ({step} ms) is not a whole number of minutes",
        "name the timeframe; rara stores bars of whole minutes, hours, days or weeks",
    )


def _fmt_step(ms: int) -> str:
    for unit in ("w", "d", "h", "m"):
        if ms % MS_PER_UNIT[unit] == 0:
            return f"{ms // MS_PER_UNIT[unit]}{unit}"
    return f"{ms} ms"
