"""`rara data`: what candles are stored, and getting more in (fetch, import, synth)."""

from __future__ import annotations

import click
from rich.markup import escape as rich_escape

from rara.cli.output import emit, stderr_console
from rara.cli.params import EXCHANGE, SYMBOL, TIMEFRAME, UTC_TIME, check_range
from rara.domain.market import Instrument, Timeframe, ms_to_iso
from rara.domain.text import printable
from rara.home import Home


def parse_range(start: int | str | None, end: int | str | None) -> tuple[int | None, int | None]:
    """--start/--end as epoch ms (UTC), checked to be in order. The options hand in epoch ms
    already (`UTC_TIME`); text from other callers goes through the same parser."""
    s = UTC_TIME.parse(start) if isinstance(start, str) else start
    e = UTC_TIME.parse(end) if isinstance(end, str) else end
    check_range(s, e)
    return s, e


@click.command("info")
def info() -> None:
    """Coverage per instrument: range, rows, gaps, sources; unreadable files under `problems`."""
    from rara.data.catalog import Catalog  # DuckDB and Arrow: only when a command reads

    cat = Catalog(Home.from_env().data_dir)
    instruments = list(cat.info())
    problems = cat.problems()
    for p in problems:
        # a file name or a reader's message is text from outside: escaped, and not markup
        detail = rich_escape(printable(f"{p['path']}: {p['error']}", one_line=True))
        stderr_console.print(f"[yellow]unreadable:[/] {detail}")
    emit(
        {
            "catalog": str(cat.root),
            "embedded": str(cat.embedded) if cat.embedded else None,
            "instruments": instruments,
            "problems": problems,
        }
    )


@click.command("resample")
@click.option("--symbol", type=SYMBOL, required=True, help="e.g. BTC/USDT")
@click.option(
    "--from", "source_tf", type=TIMEFRAME, required=True, help="stored timeframe, e.g. 5m"
)
@click.option("--to", "to", type=TIMEFRAME, required=True, help="coarser timeframe, e.g. 4h")
@click.option(
    "--exchange", type=EXCHANGE, default=None, help="default: whichever exchange holds the symbol"
)
@click.option("--start", type=UTC_TIME, default=None, help="UTC date or datetime (inclusive)")
@click.option("--end", type=UTC_TIME, default=None, help="UTC date or datetime (exclusive)")
@click.option("--tail", default=5, show_default=True, help="how many of the last bars to print")
@click.option("--save", is_flag=True, help="store the result in the catalog as its own timeframe")
def resample(
    symbol: str,
    source_tf: Timeframe,
    to: Timeframe,
    exchange: str | None,
    start: int | None,
    end: int | None,
    tail: int,
    save: bool,
) -> None:
    """Aggregate stored candles to a coarser timeframe (in DuckDB SQL)."""
    from rara.data.catalog import Catalog

    check_range(start, end)
    cat = Catalog(Home.from_env().data_dir)
    inst = cat.resolve(symbol, source_tf, exchange)
    out = cat.resample(inst, to, start, end)
    saved = None
    if save and len(out):
        target = Instrument(exchange=inst.exchange, symbol=inst.symbol, timeframe=to)
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
