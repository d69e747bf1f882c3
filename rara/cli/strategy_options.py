"""The options every strategy-on-candles command shares (`backtest run|gate`, `sandbox run`), and
their parsing into a `StrategyOnMarket`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from rara.cli.data import parse_range
from rara.cli.params import EXCHANGE, SYMBOL, TIMEFRAME, UTC_TIME
from rara.domain.market import Timeframe
from rara.errors import BadInput
from rara.home import Home
from rara.runner.sandbox import BOUNDARIES

if TYPE_CHECKING:  # the service (candles, sandbox) is imported when a command opens one
    from rara.services.backtest import StrategyOnMarket


def market_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options every strategy-on-candles command shares."""
    for opt in reversed(
        [
            click.argument("strategy"),
            click.option("--symbol", type=SYMBOL, required=True, help="e.g. BTC/USDT"),
            click.option("--timeframe", type=TIMEFRAME, required=True, help="e.g. 1h"),
            click.option("--exchange", type=EXCHANGE, help="default: whichever holds the symbol"),
            click.option("--start", type=UTC_TIME, help="UTC date or datetime (inclusive)"),
            click.option("--end", type=UTC_TIME, help="UTC date or datetime (exclusive)"),
            click.option("--params", "params_json", default=None, help='JSON, e.g. {"fast": 10}'),
            click.option(
                "--backend",
                type=click.Choice(BOUNDARIES),
                default=None,
                help="sandbox backend (default: sandbox.backend setting)",
            ),
        ]
    ):
        fn = opt(fn)
    return fn


def parse_params(params_json: str | None) -> dict[str, Any] | None:
    if not params_json:
        return None
    try:
        params = json.loads(params_json)
    except json.JSONDecodeError as exc:
        raise BadInput("bad_params", f"--params is not JSON: {exc}", 'e.g. {"fast": 10}') from exc
    if not isinstance(params, dict):
        raise BadInput("bad_params", "--params must be a JSON object", 'e.g. {"fast": 10}')
    return params


def open_market(
    strategy: str,
    symbol: str,
    timeframe: Timeframe,
    exchange: str | None,
    start: int | None,
    end: int | None,
    params_json: str | None,
    backend: str | None,
) -> StrategyOnMarket:
    """The shared options, parsed, as a strategy on its market (with an open sandbox)."""
    from rara.services.backtest import StrategyOnMarket

    params = parse_params(params_json)
    start_ms, end_ms = parse_range(start, end)
    try:
        return StrategyOnMarket.open(
            strategy,
            home=Home.from_env(),
            symbol=symbol,
            timeframe=timeframe,
            exchange=exchange,
            start_ms=start_ms,
            end_ms=end_ms,
            params=params,
            backend=backend,
        )
    except BadInput as exc:  # the range is --start/--end here
        if exc.code != "too_few_bars":
            raise
        raise BadInput(exc.code, exc.message, "widen --start/--end") from None
