"""`rara strategy`: promoted strategies (shipped and your own)."""

from __future__ import annotations

import click

from rara.cli import backtest


@click.group("strategy")
def group() -> None:
    """Promoted strategies: $RARA_HOME/strategies/promoted, then the ones shipped with rara."""


# `rara strategy backtest NAME` is `rara backtest run` for a promoted strategy's name
group.add_command(backtest.run, name="backtest")
