"""`rara backtest run|gate`: a strategy's metrics, or its research-gate verdict, on stored candles.

The strategy always runs in a sandbox (settings: sandbox.backend); only its signals come back.
The work is `rara.services.backtest`'s; this module parses and prints.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from rara.backtest import preload
from rara.backtest.warm import warm_up
from rara.cli.output import emit
from rara.cli.params import FEE, SLIPPAGE
from rara.cli.strategy_options import market_options, open_market
from rara.config import weakened_warning
from rara.errors import Refused
from rara.services.backtest import backtest_strategy, gate_strategy

log = logging.getLogger(__name__)


@click.command("run")
@market_options
@click.option("--fees", type=FEE, default=None, help="taker fee per side, e.g. 0.001")
@click.option("--slippage", type=SLIPPAGE, default=None, help="adverse move per fill, e.g. 0.0005")
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="write an HTML tear sheet here (and a PNG of the equity curve beside it)",
)
def run(fees: float | None, slippage: float | None, report: Path | None, **market: Any) -> None:
    """Backtest a strategy FILE or promoted NAME; print its metrics."""
    # vectorbt's import overlaps with loading the candles, the sandbox and the strategy
    preload.start(warm_up)
    on_market = open_market(**market)
    overrides = {"backtest.fee": fees, "backtest.slippage": slippage}
    costs = on_market.settings.with_overrides(overrides).backtest
    emit(backtest_strategy(on_market, costs, report))


@click.command("gate")
@market_options
def gate(**market: Any) -> None:
    """The research gate's verdict on a strategy; exit 3 when it is rejected. A gate with
    thresholds loosened below their defaults is said on stderr (and recorded in the report)."""
    preload.start(warm_up)
    on_market = open_market(**market)
    warning = weakened_warning(on_market.settings.gates.research.weakened())
    if warning:
        log.warning("%s", warning)
    verdict = gate_strategy(on_market)
    body = verdict.model_dump(mode="json")
    if not verdict.passed:
        err = Refused(
            "gate_rejected",
            verdict.summary(),
            "each failed check lists its value and threshold under report.checks",
        )
        emit({**err.to_dict(), "report": body})
        raise SystemExit(err.exit_code)
    emit(body)
