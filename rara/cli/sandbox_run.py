"""`rara sandbox check|run`: lint a strategy, or run it in a sandbox against stored candles."""

from __future__ import annotations

from typing import Any

import click

from rara.cli.output import emit
from rara.cli.strategy_options import market_options, open_market
from rara.domain.market import ms_to_iso
from rara.errors import EXIT_REFUSED
from rara.home import Home
from rara.registry import Registry
from rara.runner.strategy_source import resolve_strategy


@click.command("check")
@click.argument("strategy")
def check(strategy: str) -> None:
    """Static checks (the lint layer) on a strategy FILE or promoted NAME; exit 3 if refused."""
    from rara_sandbox.lint import lint

    src = resolve_strategy(strategy, Registry(Home.from_env()))
    report = lint(src.source)
    emit({"strategy": src.name, "path": str(src.path), **report.to_dict()})
    if not report.ok:
        raise SystemExit(EXIT_REFUSED)


@click.command("run")
@market_options
def run(**market: Any) -> None:
    """Run a strategy FILE or promoted NAME in a sandbox and summarise its signals."""
    import numpy as np

    from rara.services.backtest import signals

    on_market = open_market(**market)
    result = signals(on_market)
    candles = on_market.candles
    full = result.windows[-1]
    entries, exits = np.flatnonzero(full.entries), np.flatnonzero(full.exits)
    emit(
        {
            "strategy": on_market.strategy.name,
            "backend": on_market.backend,
            "meta": result.meta,
            "params": result.params,
            "instrument": on_market.inst.key,
            "bars": len(candles),
            "range": [ms_to_iso(int(candles.ts[0])), ms_to_iso(int(candles.ts[-1]))],
            "entries": int(entries.size),
            "exits": int(exits.size),
            "first_entry": ms_to_iso(int(candles.ts[entries[0]])) if entries.size else None,
            "last_exit": ms_to_iso(int(candles.ts[exits[-1]])) if exits.size else None,
            "printed": result.printed,
            "timings_ms": result.timings_ms,
        }
    )
