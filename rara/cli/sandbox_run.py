"""`rara sandbox check|run`: lint a strategy, or run it in a sandbox against stored candles."""

from __future__ import annotations

import json

import click
import numpy as np

from rara.cli.data import parse_range
from rara.cli.output import emit
from rara.cli.sandbox import group
from rara.config import load_settings
from rara.data.catalog import default_catalog
from rara.domain.market import ms_to_iso
from rara.errors import BadInput, Refused
from rara.runner.sandbox import BACKENDS, open_sandbox
from rara.runner.strategy_source import resolve_strategy

SUGGESTIONS = {
    "lint_failed": "`rara sandbox check FILE` lists each failed check with its line",
    "timeout": "the strategy ran past the wall-clock deadline; make it cheaper",
    "memory_limit": "the strategy used more memory than the sandbox allows",
    "forbidden": "strategies may only use the candles facade, `ta` and the allowed builtins",
    "forbidden_syscall": "the strategy tried something the OS boundary forbids",
}


@group.command("check")
@click.argument("strategy")
def check(strategy: str) -> None:
    """Static checks (the lint layer) on a strategy FILE or promoted NAME; exit 3 if refused."""
    from rara_sandbox.lint import lint

    src = resolve_strategy(strategy)
    report = lint(src.source)
    emit({"strategy": src.name, "path": str(src.path), **report.to_dict()})
    if not report.ok:
        raise SystemExit(3)


@group.command("run")
@click.argument("strategy")
@click.option("--symbol", required=True, help="e.g. BTC/USDT")
@click.option("--timeframe", required=True, help="e.g. 1h")
@click.option("--exchange", default=None, help="default: whichever exchange holds the symbol")
@click.option("--start", default=None, help="UTC date or datetime (inclusive)")
@click.option("--end", default=None, help="UTC date or datetime (exclusive)")
@click.option("--params", "params_json", default=None, help='JSON overrides, e.g. {"fast": 10}')
@click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    default=None,
    help="default: sandbox.backend from settings (subprocess)",
)
def run(
    strategy: str,
    symbol: str,
    timeframe: str,
    exchange: str | None,
    start: str | None,
    end: str | None,
    params_json: str | None,
    backend: str | None,
) -> None:
    """Run a strategy FILE or promoted NAME in a sandbox and summarise its signals."""
    settings = load_settings()
    src = resolve_strategy(strategy)
    try:
        params = json.loads(params_json) if params_json else None
    except json.JSONDecodeError as exc:
        raise BadInput("bad_params", f"--params is not JSON: {exc}", 'e.g. {"fast": 10}') from exc
    if params is not None and not isinstance(params, dict):
        raise BadInput("bad_params", "--params must be a JSON object", 'e.g. {"fast": 10}')
    cat = default_catalog()
    inst = cat.resolve(symbol, timeframe, exchange)
    candles = cat.load(inst, *parse_range(start, end))
    chosen = backend or settings.sandbox.backend
    sandbox = open_sandbox(chosen, settings.sandbox.wall_timeout_s, settings.sandbox.memory_mb)
    try:
        result = sandbox.evaluate(src.source, candles, params)
    finally:
        sandbox.close()
    if not result.ok or result.error is not None:
        err = result.error
        code = err.code if err else "unknown"
        where = f" (line {err.line})" if err and err.line else ""
        raise Refused(
            f"strategy_{code}",
            f"{src.name}: {err.message if err else code}{where}",
            SUGGESTIONS.get(code, "fix the strategy and run it again"),
        )
    full = result.windows[-1]
    entries, exits = np.flatnonzero(full.entries), np.flatnonzero(full.exits)
    emit(
        {
            "strategy": src.name,
            "backend": chosen,
            "meta": result.meta,
            "params": result.params,
            "instrument": inst.key,
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
