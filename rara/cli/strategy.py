"""`rara strategy`: promoted strategies (shipped and your own)."""

from __future__ import annotations

from pathlib import Path

import click

from rara.cli.backtest import Prepared, market_options, run_backtest_command
from rara.cli.output import emit


@click.group("strategy")
def group() -> None:
    """Promoted strategies: $RARA_HOME/strategies/promoted, then the ones shipped with rara."""


@group.command("backtest")
@market_options
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="write an HTML tear sheet here (and a PNG of the equity curve beside it)",
)
def backtest(
    strategy: str,
    symbol: str,
    timeframe: str,
    exchange: str | None,
    start: str | None,
    end: str | None,
    params_json: str | None,
    backend: str | None,
    report: Path | None,
) -> None:
    """Backtest a promoted strategy NAME with the configured costs."""
    p = Prepared(strategy, symbol, timeframe, exchange, start, end, params_json, backend)
    emit(run_backtest_command(p, None, None, report))
