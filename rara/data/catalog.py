"""The candle catalog: Parquet files partitioned by exchange / symbol / timeframe / period.

Layout: ``<root>/<exchange>/<BASE-QUOTE>/<timeframe>/<period>.parquet`` where the period is a
month (``2024-01``) below 1h bars and a year (``2024``) otherwise. Each file carries a ``rara``
key-value entry (JSON): source and the ``covered`` ranges that were asked of the source, which is
what makes fetching idempotent and resumable. Writes go to a temp file that is renamed over the old
one, so an interrupted writer never leaves a half file. Reads go through an in-memory DuckDB
connection: there is no long-lived DuckDB writer, so any number of processes can read.

The package ships real sample candles in the same layout (``rara/data/sample``). They are a
read-only second root: a period stored in ``$RARA_HOME/data`` wins over the embedded one.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from rara.data.periods import (
    Interval,
    as_timeframe,
    merge_intervals,
    period_bounds,
    periods_between,
)
from rara.data.quality import find_gaps, grid_origin
from rara.domain.market import Candles, Instrument, Timeframe, ms_to_iso, symbol_from_path
from rara.errors import BadInput, RaraError

log = logging.getLogger(__name__)

EMBEDDED_ROOT = Path(__file__).parent / "sample"
META_KEY = b"rara"
SCHEMA = pa.schema(
    [
        ("ts", pa.timestamp("ms", tz="UTC")),
        ("open", pa.float64()),
        ("high", pa.float64()),
        ("low", pa.float64()),
        ("close", pa.float64()),
        ("volume", pa.float64()),
    ]
)


@dataclass
class PeriodFile:
    path: Path
    period: str
    embedded: bool
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def covered(self) -> list[Interval]:
        return [(int(s), int(e)) for s, e in self.meta.get("covered", [])]


@dataclass
class WriteResult:
    periods: list[str] = field(default_factory=list)
    added: int = 0
    replaced: int = 0
    quarantined: list[str] = field(default_factory=list)


class CorruptFile(RaraError):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            "corrupt_data",
            f"{path} is not a readable Parquet file: {reason}",
            "move it aside or delete it, then re-fetch or re-import that period; "
            "`rara data info` lists every unreadable file",
        )
        self.path = path


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        kv = pq.read_metadata(path).metadata or {}
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise CorruptFile(path, str(exc)) from exc
    raw = kv.get(META_KEY)
    return json.loads(raw) if raw else {}


def candles_to_table(c: Candles, meta: dict[str, Any]) -> pa.Table:
    arrays = [pa.array(c.ts, type=pa.int64()).cast(SCHEMA.field("ts").type)]
    arrays += [pa.array(getattr(c, col), type=pa.float64()) for col in Candles.COLUMNS[1:]]
    table = pa.Table.from_arrays(arrays, schema=SCHEMA)
    return table.replace_schema_metadata({META_KEY: json.dumps(meta, sort_keys=True).encode()})


def table_to_candles(table: pa.Table) -> Candles:
    ts = table.column("ts").cast(pa.int64()).to_numpy()
    cols = [table.column(c).to_numpy().astype(np.float64, copy=False) for c in Candles.COLUMNS[1:]]
    return Candles(ts.astype(np.int64, copy=False), *cols)


def concat_candles(parts: list[Candles]) -> Candles:
    if not parts:
        return Candles.empty()
    return Candles(*(np.concatenate([getattr(p, c) for p in parts]) for c in Candles.COLUMNS))


class Catalog:
    def __init__(self, root: Path, embedded: Path | None = EMBEDDED_ROOT) -> None:
        self.root = root
        self.embedded = embedded if embedded is not None and embedded.exists() else None
        self._db: duckdb.DuckDBPyConnection | None = None

    # ---- layout --------------------------------------------------------------------------
    def _dir(self, root: Path, inst: Instrument) -> Path:
        return root / inst.exchange / inst.symbol_path / str(inst.timeframe)

    def _roots(self) -> list[tuple[Path, bool]]:
        roots = [(self.root, False)]
        if self.embedded is not None:
            roots.insert(0, (self.embedded, True))
        return roots

    def period_files(self, inst: Instrument, with_meta: bool = True) -> dict[str, PeriodFile]:
        """Period -> file, the writable root overriding the embedded one."""
        out: dict[str, PeriodFile] = {}
        for root, embedded in self._roots():
            d = self._dir(root, inst)
            if not d.is_dir():
                continue
            for p in sorted(d.glob("*.parquet")):
                meta = _read_meta(p) if with_meta else {}
                out[p.stem] = PeriodFile(p, p.stem, embedded, meta)
        return dict(sorted(out.items()))

    def instruments(self) -> list[Instrument]:
        found: set[tuple[str, str, str]] = set()
        for root, _ in self._roots():
            if not root.is_dir():
                continue
            for f in root.glob("*/*/*/*.parquet"):
                tf_dir = f.parent
                found.add((tf_dir.parent.parent.name, tf_dir.parent.name, tf_dir.name))
        out = []
        for ex, sym, tf in sorted(found):
            try:
                out.append(
                    Instrument(
                        exchange=ex, symbol=symbol_from_path(sym), timeframe=Timeframe.parse(tf)
                    )
                )
            except ValueError:
                log.warning("ignoring %s/%s/%s: not a catalog path", ex, sym, tf)
        return out

    def resolve(
        self, symbol: str, timeframe: Timeframe | str, exchange: str | None = None
    ) -> Instrument:
        """An instrument; the exchange defaults to the one holding the symbol. The CLI hands in
        parsed values; text (from library callers) is parsed here with the same rules."""
        tf = as_timeframe(timeframe)
        try:
            probe = Instrument(exchange=exchange or "binance", symbol=symbol, timeframe=tf)
        except ValueError as exc:
            raise BadInput(
                "bad_instrument",
                str(exc).splitlines()[-1].strip(),
                "symbols look like BTC/USDT, exchange ids like binance",
            ) from exc
        if exchange is not None:
            return probe
        held = [i for i in self.instruments() if i.symbol == probe.symbol]
        for i in held:
            if i.timeframe == tf:
                return i
        return probe

    # ---- reading -------------------------------------------------------------------------
    @property
    def db(self) -> duckdb.DuckDBPyConnection:
        if self._db is None:
            self._db = duckdb.connect(":memory:")
            self._db.execute("SET TimeZone = 'UTC'")
        return self._db

    def _files_for(self, inst: Instrument, start_ms: int | None, end_ms: int | None) -> list[str]:
        files = []
        for pf in self.period_files(inst, with_meta=False).values():
            ps, pe = period_bounds(pf.period)
            if (start_ms is None or pe > start_ms) and (end_ms is None or ps < end_ms):
                files.append(str(pf.path))
        return files

    def load(
        self, inst: Instrument, start_ms: int | None = None, end_ms: int | None = None
    ) -> Candles:
        """Candles with ``start_ms <= ts < end_ms`` as numpy arrays, oldest first."""
        files = self._files_for(inst, start_ms, end_ms)
        if not files:
            raise BadInput(
                "no_data",
                f"no candles stored for {inst.key}",
                "see `rara data info` for what is stored; `rara data fetch` or `rara data import` "
                "to add more",
            )
        where, params = _range_clause(start_ms, end_ms)
        # No ORDER BY: period files are disjoint and listed in time order, and DuckDB preserves
        # insertion order, so rows arrive sorted; checking costs ~1 ms, sorting ~20 ms.
        sql = f"SELECT ts, open, high, low, close, volume FROM read_parquet($files) {where}"
        cols = self._query(sql, {"files": files, **params}, files)
        ts = cols["ts"].astype("datetime64[ms]").view(np.int64)
        candles = Candles(ts, *(cols[c] for c in Candles.COLUMNS[1:]))
        if ts.size > 1 and not bool(np.all(ts[1:] > ts[:-1])):
            order = np.argsort(ts, kind="stable")
            candles = Candles(*(getattr(candles, c)[order] for c in Candles.COLUMNS))
        return candles

    def _query(self, sql: str, params: dict[str, Any], files: list[str]) -> dict[str, np.ndarray]:
        """Run a query to numpy columns via Arrow (the cheapest path out of DuckDB)."""
        try:
            table = self.db.sql(sql, params=params).to_arrow_table()
        except duckdb.Error as exc:
            for f in files:  # name the damaged file rather than DuckDB's generic message
                try:
                    pq.read_table(f)
                except Exception as inner:
                    raise CorruptFile(Path(f), str(inner)) from exc
            raise
        return {name: table.column(name).to_numpy() for name in table.column_names}

    def resample(
        self,
        inst: Instrument,
        to: Timeframe,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> Candles:
        """Aggregate to a coarser timeframe in SQL: first open, max high, min low, last close,
        summed volume. Bars at either end that the source does not fully cover are dropped, so a
        half-formed bar is never passed off as a closed one."""
        src = inst.timeframe
        if to.ms <= src.ms or to.ms % src.ms:
            raise BadInput(
                "bad_resample",
                f"cannot resample {src} to {to}: the target must be a whole multiple of the source",
                f"pick a target such as {Timeframe(value='1h') if src.ms < 3_600_000 else '1d'}",
            )
        files = self._files_for(inst, start_ms, end_ms)
        if not files:
            raise BadInput("no_data", f"no candles stored for {inst.key}", "`rara data info`")
        where, params = _range_clause(start_ms, end_ms)
        origin = grid_origin(to)
        sql = f"""
            WITH src AS (
                SELECT epoch_ms(ts) AS t, open, high, low, close, volume
                FROM read_parquet($files) {where}
            )
            SELECT t - ((t - {origin}) % {to.ms}) AS ts,
                   arg_min(open, t) AS open, max(high) AS high, min(low) AS low,
                   arg_max(close, t) AS close, sum(volume) AS volume,
                   min(t) AS first_t, max(t) AS last_t
            FROM src GROUP BY 1 ORDER BY 1
        """
        cols = self._query(sql, {"files": files, **params}, files)
        keep = np.ones(cols["ts"].shape[0], dtype=bool)
        if keep.size:
            keep[0] = cols["first_t"][0] == cols["ts"][0]
            keep[-1] &= cols["last_t"][-1] + src.ms == cols["ts"][-1] + to.ms
        return Candles(
            cols["ts"][keep].astype(np.int64),
            *(cols[c][keep].astype(np.float64) for c in Candles.COLUMNS[1:]),
        )

    # ---- writing -------------------------------------------------------------------------
    def write(
        self, inst: Instrument, candles: Candles, source: str, covered: list[Interval] | None = None
    ) -> WriteResult:
        """Merge candles into their period files (incoming rows win on equal timestamps) and
        record ``covered`` as asked-of-the-source. Each period is replaced atomically."""
        result = WriteResult()
        covered = (
            covered
            if covered is not None
            else (
                [(int(candles.ts[0]), int(candles.ts[-1]) + inst.timeframe.ms)]
                if len(candles)
                else []
            )
        )
        touched = set()
        for s, e in covered:
            touched.update(periods_between(s, e, inst.timeframe))
        if len(candles):
            touched.update(
                periods_between(int(candles.ts[0]), int(candles.ts[-1]) + 1, inst.timeframe)
            )
        existing = self._period_paths(self.root, inst)
        # A period only the embedded sample holds starts from the sample's rows and coverage:
        # otherwise the first user write would shadow (hide) the whole shipped period.
        embedded = self._period_paths(self.embedded, inst)
        for period in sorted(touched):
            ps, pe = period_bounds(period)
            lo, hi = np.searchsorted(candles.ts, [ps, pe])
            new = candles.slice(int(lo), int(hi))
            cov = [(max(s, ps), min(e, pe)) for s, e in covered if s < pe and e > ps]
            old, meta = Candles.empty(), {}
            path = existing.get(period) or embedded.get(period)
            if path is not None:
                try:
                    meta = _read_meta(path)
                    old = table_to_candles(pq.read_table(path))
                except (CorruptFile, OSError, pa.ArrowException) as exc:
                    if period in existing:  # never move files inside the installed package
                        result.quarantined.append(str(self._quarantine(path, exc)))
                    old, meta = Candles.empty(), {}
            merged, added, replaced = _merge(old, new)
            sources = sorted(set(meta.get("sources", [])) | {source})
            meta = {
                "exchange": inst.exchange,
                "symbol": inst.symbol,
                "timeframe": str(inst.timeframe),
                "period": period,
                "sources": sources,
                "covered": merge_intervals(
                    [(int(s), int(e)) for s, e in meta.get("covered", [])] + cov
                ),
                "updated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            if len(merged) == 0 and not meta["covered"]:
                continue
            self._atomic_write(
                self._dir(self.root, inst) / f"{period}.parquet", candles_to_table(merged, meta)
            )
            result.periods.append(period)
            result.added += added
            result.replaced += replaced
        return result

    def _period_paths(self, root: Path | None, inst: Instrument) -> dict[str, Path]:
        d = self._dir(root, inst) if root is not None else None
        return {p.stem: p for p in d.glob("*.parquet")} if d is not None and d.is_dir() else {}

    def covered(self, inst: Instrument) -> list[Interval]:
        """What has been asked of a source (or imported) for this instrument, merged."""
        spans: list[Interval] = []
        for pf in self.period_files(inst).values():
            spans += pf.covered
        return merge_intervals(spans)

    @staticmethod
    def _atomic_write(path: Path, table: pa.Table) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        pq.write_table(table, tmp, compression="zstd")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    @staticmethod
    def _quarantine(path: Path, exc: Exception) -> Path:
        dest = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
        os.replace(path, dest)
        log.warning("%s was unreadable (%s); moved aside to %s and rebuilt", path, exc, dest)
        return dest

    # ---- reporting -----------------------------------------------------------------------
    def problems(self) -> list[dict[str, str]]:
        """Every unreadable Parquet file under the writable root (read whole: damage can sit in
        any column chunk, and period files are small)."""
        out = []
        for f in sorted(self.root.rglob("*.parquet")) if self.root.is_dir() else []:
            try:
                pq.read_table(f)
            except Exception as exc:  # pyarrow raises several types for damaged files
                out.append(
                    {
                        "path": str(f),
                        "error": f"unreadable Parquet: {exc}",
                        "suggestion": "move it aside, then re-fetch or re-import that period",
                    }
                )
        return out

    def info(self) -> Iterator[dict[str, Any]]:
        """Coverage per instrument: range, rows, gaps inside the stored range, sources."""
        for inst in self.instruments():
            try:
                files = self.period_files(inst)
                c = self.load(inst)
            except CorruptFile:
                continue  # listed by problems()
            gaps = find_gaps(c.ts, inst.timeframe.ms)
            missing = sum((e - s) // inst.timeframe.ms for s, e in gaps)
            sources = sorted({s for f in files.values() for s in f.meta.get("sources", [])})
            yield {
                "exchange": inst.exchange,
                "symbol": inst.symbol,
                "timeframe": str(inst.timeframe),
                "start": ms_to_iso(int(c.ts[0])) if len(c) else None,
                "end": ms_to_iso(int(c.ts[-1])) if len(c) else None,
                "rows": len(c),
                "gaps": len(gaps),
                "missing_bars": int(missing),
                "gap_ranges": [[ms_to_iso(s), ms_to_iso(e)] for s, e in gaps[:10]],
                "sources": sources,
                "periods": len(files),
                "embedded": all(f.embedded for f in files.values()),
            }


def _merge(old: Candles, new: Candles) -> tuple[Candles, int, int]:
    if not len(old):
        return new, len(new), 0
    if not len(new):
        return old, 0, 0
    keep_old = ~np.isin(old.ts, new.ts)
    replaced = int((~keep_old).sum())
    both = concat_candles(
        [
            old.slice(0, len(old))
            if keep_old.all()
            else Candles(*(getattr(old, col)[keep_old] for col in Candles.COLUMNS)),
            new,
        ]
    )
    order = np.argsort(both.ts, kind="stable")
    merged = Candles(*(getattr(both, col)[order] for col in Candles.COLUMNS))
    return merged, len(new) - replaced, replaced


def _range_clause(start_ms: int | None, end_ms: int | None) -> tuple[str, dict[str, Any]]:
    conds, params = [], {}
    if start_ms is not None:
        conds.append("epoch_ms(ts) >= $start")
        params["start"] = start_ms
    if end_ms is not None:
        conds.append("epoch_ms(ts) < $end")
        params["end"] = end_ms
    return ("WHERE " + " AND ".join(conds)) if conds else "", params
