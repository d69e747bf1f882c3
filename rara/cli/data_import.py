"""`rara data import` (CSV, Parquet, freqtrade folders) and `rara data synth` (seeded candles)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from rara.cli.output import emit
from rara.cli.params import EXCHANGE, SYMBOL, TIMEFRAME, UTC_TIME
from rara.config import load_settings
from rara.data.catalog import Catalog, WriteResult
from rara.data.importers import PartRequired, compare_stored, import_path
from rara.data.quality import check_candles
from rara.data.synth import EDGES, generate
from rara.domain.market import Instrument, Timeframe, ms_to_iso
from rara.errors import BadInput, Refused
from rara.home import Home

log = logging.getLogger(__name__)

MAX_SYNTH_BARS = 10_000_000  # ~1.3 GB of intermediates above this; nobody needs more
# Without --end or --bars: three years of bars, the history the README names for research on a
# planted edge (8 months cannot support a promotion of the default-strength edge; see README).
DEFAULT_SYNTH_DAYS = 3 * 365


@click.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--symbol",
    type=SYMBOL,
    help="Market, e.g. BTC/USDT. Required for CSV/Parquet without "
    "metadata; filters a freqtrade folder.",
)
@click.option(
    "--timeframe",
    type=TIMEFRAME,
    help="Bar length, e.g. 1h. Inferred from the rows if omitted; filters a freqtrade folder.",
)
@click.option(
    "--exchange",
    type=EXCHANGE,
    help="Exchange id to store under. Default: the freqtrade folder "
    "name, the file's metadata, or data.default_exchange.",
)
def import_cmd(
    path: Path, symbol: str | None, timeframe: Timeframe | None, exchange: str | None
) -> None:
    """Import candles from a CSV or Parquet file, or a freqtrade data file or folder.

    Every file is validated before anything is written: a bad file imports nothing.
    Re-importing the same file adds nothing.
    """
    home = Home.from_env()
    default_exchange = load_settings(home).data.default_exchange
    try:
        report = import_path(
            Catalog(home.data_dir),
            path,
            symbol=symbol,
            timeframe=timeframe,
            exchange=exchange,
            default_exchange=default_exchange,
        )
    except PartRequired as exc:  # the importer says what is missing; here that is a flag
        example = f" {exc.example}" if exc.example else (" 1h" if exc.part == "timeframe" else "")
        raise BadInput(exc.code, exc.message, f"pass --{exc.part}{example}") from None
    except BadInput as exc:  # rows off the bar grid: the bar length is what --timeframe says
        if exc.code != "timestamps_off_grid":
            raise
        raise BadInput(exc.code, exc.message, f"{exc.suggestion} with --timeframe") from None
    emit(report)


# The options behind each of the generator's refusals, named in the suggestion.
SYNTH_FLAGS = {
    "bad_bars": "--bars, or --end",
    "bad_seed": "--seed",
    "bad_edge": "--edge, --edge-strength, --edge-lookback",
}


@click.command("synth")
@click.option("--symbol", type=SYMBOL, default="SYN/USDT", show_default=True)
@click.option("--timeframe", type=TIMEFRAME, default="1h", show_default=True)
@click.option(
    "--start",
    type=UTC_TIME,
    default="2024-01-01",
    show_default=True,
    help="First bar's open time (UTC when no zone).",
)
@click.option(
    "--end",
    type=UTC_TIME,
    help="Stop before this time (exclusive). Default (no --end, no --bars): three years of bars.",
)
@click.option("--bars", type=int, help="Number of bars (or give --end).")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option(
    "--edge",
    type=click.Choice(["none", *EDGES]),
    default="none",
    show_default=True,
    help="Plant a known, causal pattern (see rara.data.synth).",
)
@click.option(
    "--edge-strength",
    type=float,
    default=0.1,
    show_default=True,
    help="Shift of the next bar's expected return, in regime volatilities.",
)
@click.option(
    "--edge-lookback",
    type=int,
    default=24,
    show_default=True,
    help="Bars of past move the momentum edge looks at.",
)
@click.option("--exchange", type=EXCHANGE, default="synthetic", show_default=True)
def synth_cmd(
    symbol: str,
    timeframe: Timeframe,
    start: int,
    end: int | None,
    bars: int | None,
    seed: int,
    edge: str,
    edge_strength: float,
    edge_lookback: int,
    exchange: str,
) -> None:
    """Generate seeded synthetic candles (regime-switching walk with jumps) into the catalog."""
    inst = Instrument(exchange=exchange, symbol=symbol, timeframe=timeframe)  # parts are parsed
    start_ms = start
    n = _bar_count(start_ms, end, bars, inst.timeframe)
    try:
        res = generate(
            n,
            inst.timeframe,
            start_ms,
            seed,
            edge=None if edge == "none" else edge,
            edge_strength=edge_strength,
            edge_lookback=edge_lookback,
        )
    except BadInput as exc:  # the generator speaks of bars, seeds and edges; here they are flags
        flags = SYNTH_FLAGS.get(exc.code)
        if flags is None:
            raise
        raise BadInput(exc.code, exc.message, f"{exc.suggestion} ({flags})") from None
    check_candles(res.candles, inst.timeframe, "synthetic candles")  # a generator bug stops here
    catalog = Catalog(Home.from_env().data_dir)
    _refuse_mixing(catalog, inst, res.source)
    # a rerun of the same command regenerates identical candles: leave the files alone then
    unchanged, _, noop = compare_stored(catalog, inst, res.candles, res.source)
    wr = WriteResult() if noop else catalog.write(inst, res.candles, res.source)
    emit(
        {
            "exchange": inst.exchange,
            "symbol": inst.symbol,
            "timeframe": str(inst.timeframe),
            **res.summary(),
            "source": res.source,
            "added": wr.added,
            "replaced": wr.replaced - min(unchanged, wr.replaced),
            "unchanged": unchanged,
            "written": not noop,
            "periods": wr.periods,
        }
    )


def _bar_count(start_ms: int, end_ms: int | None, bars: int | None, tf: Timeframe) -> int:
    if end_ms is not None and bars is not None:
        raise BadInput(
            "bad_range",
            "give at most one of --end and --bars",
            "e.g. --bars 10000, or --end 2025-01-01",
        )
    if end_ms is None and bars is None:
        n = -(-DEFAULT_SYNTH_DAYS * 86_400_000 // tf.ms)
    elif end_ms is not None:
        if end_ms <= start_ms:
            raise BadInput(
                "bad_range",
                f"--end {ms_to_iso(end_ms)} is not after --start {ms_to_iso(start_ms)}",
                "give an --end later than --start",
            )
        n = -(-(end_ms - start_ms) // tf.ms)  # bars that open before end
    else:
        assert bars is not None
        n = bars
    if n < 1 or n > MAX_SYNTH_BARS:
        raise BadInput(
            "bad_bars",
            f"{n} bars is outside 1..{MAX_SYNTH_BARS:,}",
            "ask for fewer bars or a longer timeframe",
        )
    return n


def _refuse_mixing(catalog: Catalog, inst: Instrument, source: str) -> None:
    """Writing a different series over stored candles would splice two unrelated price paths
    (or fake candles into real ones); only a rerun of the very same generator may merge."""
    others: set[str] = set()
    for pf in catalog.period_files(inst).values():
        meta: dict[str, Any] = pf.meta
        others.update(s for s in meta.get("sources", []) if s != source)
    if others:
        raise Refused(
            "synth_would_mix",
            f"{inst.key} already holds candles from {', '.join(sorted(others))}; "
            f"writing {source} there would splice two different series",
            f"pick another --symbol (e.g. SYN2/USDT), or remove "
            f"{catalog.root / inst.exchange / inst.symbol_path / str(inst.timeframe)} first",
        )
