"""`rara trade run STRATEGY --account NAME [--live]`: trade a strategy on a configured account
(testnet by default) through ccxt, with bars from the exchange as they close.

The work is `rara.trading.live`'s; this module parses, handles signals and prints. SIGTERM or
Ctrl-C stops the run between two steps (never between journaling an order and sending it): the
dead man's switch is disarmed, resting orders stay at the venue, and stdout gets one JSON
summary. A second signal exits at once (the journal and the venue's own records let the next
start reconcile whatever was in flight).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import click

from rara.cli.output import emit
from rara.cli.params import SYMBOL, TIMEFRAME
from rara.cli.strategy_options import parse_params
from rara.domain.market import Timeframe
from rara.home import Home
from rara.runner.sandbox import BOUNDARIES


class _StopFlag:
    """Set by the first SIGTERM/SIGINT; the second raises KeyboardInterrupt (exit now)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal: int | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt()
        self.signal = signum
        self.event.set()


@contextmanager
def _graceful_stop() -> Iterator[_StopFlag]:
    flag = _StopFlag()
    previous = {s: signal.signal(s, flag) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield flag
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@click.command("run")
@click.argument("strategy")
@click.option("--account", required=True, help="an account of [trading.accounts.NAME]")
@click.option("--symbol", type=SYMBOL, required=True, help="e.g. BTC/USDT")
@click.option("--timeframe", type=TIMEFRAME, required=True, help="e.g. 1h")
@click.option(
    "--live",
    "live_flag",
    is_flag=True,
    help="trade real money (also needs trading.live_enabled = true and the account's keys)",
)
@click.option("--params", "params_json", default=None, help='JSON, e.g. {"fast": 10}')
@click.option("--backend", type=click.Choice(BOUNDARIES), default=None, help="sandbox backend")
@click.option("--max-bars", type=int, default=None, help="stop after this many closed bars")
def run(
    strategy: str,
    account: str,
    symbol: str,
    timeframe: Timeframe,
    live_flag: bool,
    params_json: str | None,
    backend: str | None,
    max_bars: int | None,
) -> None:
    """Trade STRATEGY on account NAME until SIGTERM/Ctrl-C (or --max-bars); print a JSON
    summary: bars, orders, fills, the start-up reconciliation and the dead man's switch."""
    from rara.trading.live import live_summary, open_live_session

    with _graceful_stop() as stop:
        session = open_live_session(
            Home.from_env(),
            strategy,
            account=account,
            symbol=symbol,
            timeframe=timeframe,
            live_flag=live_flag,
            params=parse_params(params_json),
            backend=backend,
        )
        with session:

            def should_stop() -> bool:
                if stop.event.is_set():
                    return True
                return max_bars is not None and session.engine.progress.bars >= max_bars

            ended = session.run(should_stop)
            result: dict[str, Any] = live_summary(session, ended)
    emit(result)
