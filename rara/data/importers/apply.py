"""Phase two of an import: write the planned candles through `Catalog.write`.

Rows already stored with the same values are told apart from real replacements, and a file that
brings nothing new leaves the catalog untouched.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from rara.data.catalog import Catalog, table_to_candles
from rara.data.importers.plan import ImportPlan, plan_import
from rara.data.importers.tabular import I64
from rara.data.periods import (
    Interval,
    merge_intervals,
    period_bounds,
    periods_between,
    subtract_intervals,
)
from rara.data.quality import find_gaps
from rara.domain.market import Candles, Instrument, Timeframe, ms_to_iso

# the package's logger, named as before the module became a package
log = logging.getLogger(__package__)

# ---- public entry points -------------------------------------------------------------------


def import_path(
    catalog: Catalog,
    path: Path,
    symbol: str | None = None,
    timeframe: Timeframe | str | None = None,
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
