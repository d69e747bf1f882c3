"""`rara data`: what candles are stored, and getting more in (fetch, import, synth)."""

from __future__ import annotations

import click

from rara.cli.output import emit, stderr_console
from rara.data.catalog import default_catalog
from rara.domain.market import Timeframe, ms_to_iso, parse_utc
from rara.errors import BadInput


@click.group("data")
def group() -> None:
    """Candles: Parquet under $RARA_HOME/data (plus the embedded sample), read with DuckDB."""


def parse_range(start: str | None, end: str | None) -> tuple[int | None, int | None]:
    """--start/--end as epoch ms (UTC), with the errors every data command shares."""
    try:
        s = parse_utc(start) if start else None
        e = parse_utc(end) if end else None
    except ValueError as exc:
        raise BadInput(
            "bad_date", f"not a date: {exc}", "use 2024-01-31 or 2024-01-31T12:00"
        ) from exc
    if s is not None and e is not None and s >= e:
        raise BadInput(
            "bad_range", f"start {start} is not before end {end}", "swap them, or move --end later"
        )
    return s, e


@group.command("info")
def info() -> None:
    """Coverage per instrument: range, rows, gaps, sources; unreadable files under `problems`."""
    cat = default_catalog()
    instruments = list(cat.info())
    problems = cat.problems()
    for p in problems:
        stderr_console.print(f"[yellow]unreadable:[/] {p['path']}: {p['error']}")
    emit(
        {
            "catalog": str(cat.root),
            "embedded": str(cat.embedded) if cat.embedded else None,
            "instruments": instruments,
            "problems": problems,
        }
    )


@group.command("resample")
@click.option("--symbol", required=True, help="e.g. BTC/USDT")
@click.option("--from", "source_tf", required=True, help="stored timeframe, e.g. 5m")
@click.option("--to", "target_tf", required=True, help="coarser timeframe, e.g. 4h")
@click.option("--exchange", default=None, help="default: whichever exchange holds the symbol")
@click.option("--start", default=None, help="UTC date or datetime (inclusive)")
@click.option("--end", default=None, help="UTC date or datetime (exclusive)")
@click.option("--tail", default=5, show_default=True, help="how many of the last bars to print")
@click.option("--save", is_flag=True, help="store the result in the catalog as its own timeframe")
def resample(
    symbol: str,
    source_tf: str,
    target_tf: str,
    exchange: str | None,
    start: str | None,
    end: str | None,
    tail: int,
    save: bool,
) -> None:
    """Aggregate stored candles to a coarser timeframe (in DuckDB SQL)."""
    cat = default_catalog()
    inst = cat.resolve(symbol, source_tf, exchange)
    try:
        to = Timeframe.parse(target_tf)
    except ValueError as exc:
        raise BadInput(
            "bad_timeframe",
            f"timeframe {target_tf!r} is not like 1h or 1d",
            "use m, h, d or w units",
        ) from exc
    s, e = parse_range(start, end)
    out = cat.resample(inst, to, s, e)
    saved = None
    if save and len(out):
        target = inst.model_copy(update={"timeframe": to})
        saved = cat.write(target, out, source=f"resample:{inst.timeframe}").periods
    emit(
        {
            "exchange": inst.exchange,
            "symbol": inst.symbol,
            "from": str(inst.timeframe),
            "to": str(to),
            "bars": len(out),
            "start": ms_to_iso(int(out.ts[0])) if len(out) else None,
            "end": ms_to_iso(int(out.ts[-1])) if len(out) else None,
            "tail": [
                {
                    "ts": ms_to_iso(int(out.ts[i])),
                    "open": float(out.open[i]),
                    "high": float(out.high[i]),
                    "low": float(out.low[i]),
                    "close": float(out.close[i]),
                    "volume": float(out.volume[i]),
                }
                for i in range(max(0, len(out) - tail), len(out))
            ],
            "saved_periods": saved,
        }
    )
