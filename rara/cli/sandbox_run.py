"""`rara sandbox check|run`: lint a strategy, or run it in a sandbox against stored candles."""

from __future__ import annotations

from typing import Any

import click
import numpy as np

from rara.cli.backtest import Prepared, market_options, refuse_failed
from rara.cli.output import emit
from rara.domain.market import ms_to_iso
from rara.runner.strategy_source import resolve_strategy


@click.command("check")
@click.argument("strategy")
def check(strategy: str) -> None:
    """Static checks (the lint layer) on a strategy FILE or promoted NAME; exit 3 if refused."""
    from rara_sandbox.lint import lint

    src = resolve_strategy(strategy)
    report = lint(src.source)
    emit({"strategy": src.name, "path": str(src.path), **report.to_dict()})
    if not report.ok:
        raise SystemExit(3)


@click.command("run")
@market_options
def run(**market: Any) -> None:
    """Run a strategy FILE or promoted NAME in a sandbox and summarise its signals."""
    p = Prepared(**market)
    try:
        result = p.sandbox.evaluate(p.src.source, p.candles, p.params)
    finally:
        p.sandbox.close()
    refuse_failed(p.src.name, result)
    candles = p.candles
    full = result.windows[-1]
    entries, exits = np.flatnonzero(full.entries), np.flatnonzero(full.exits)
    emit(
        {
            "strategy": p.src.name,
            "backend": p.backend,
            "meta": result.meta,
            "params": result.params,
            "instrument": p.inst.key,
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
