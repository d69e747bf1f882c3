"""`rara data fetch`: candles from an exchange (ccxt) into the local catalog."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click

from rara.cli.output import emit, stderr_console
from rara.cli.params import EXCHANGE, SYMBOL, TIMEFRAME, UTC_TIME
from rara.config import load_settings
from rara.credentials import load_secrets
from rara.data.catalog import Catalog
from rara.data.fetch import fetch_candles
from rara.domain.market import Timeframe
from rara.errors import BadInput
from rara.home import Home


@click.command("fetch")
@click.option(
    "--source",
    "source",
    type=EXCHANGE,
    default=None,
    metavar="EXCHANGE",
    help="ccxt exchange id (default: data.default_exchange).",
)
@click.option("--symbol", type=SYMBOL, required=True, help="Unified symbol, e.g. BTC/USDT.")
@click.option("--timeframe", type=TIMEFRAME, required=True, help="Bar length, e.g. 1m, 1h, 1d.")
@click.option(
    "--start", type=UTC_TIME, required=True, help="First bar, UTC date or datetime (inclusive)."
)
@click.option(
    "--end", type=UTC_TIME, default=None, help="UTC date or datetime (exclusive); default now."
)
def fetch_cmd(
    source: str | None, symbol: str, timeframe: Timeframe, start: int, end: int | None
) -> None:
    """Download candles into $RARA_HOME/data.

    Only what the catalog does not already cover is asked for, progress is saved as it goes,
    and an interrupted fetch resumes when rerun. Prints a JSON report: requests made, bars
    added, ranges skipped, and the gaps the exchange has (before listing, outages).
    """
    if threading.current_thread() is threading.main_thread():  # signal() works only there
        signal.signal(signal.SIGTERM, _terminate_like_ctrl_c)
    home = Home.from_env()
    try:
        report = fetch_candles(
            source,
            symbol,
            timeframe,
            start,
            end,
            settings=load_settings(home),
            catalog=Catalog(home.data_dir),
            secrets=load_secrets(home),
            console=stderr_console,
        )
    except BadInput as exc:  # the exchange is --source here
        if exc.code != "ohlcv_not_supported":
            raise
        raise BadInput(exc.code, exc.message, f"{exc.suggestion} (--source)") from None
    emit(report.model_dump(mode="json"))


def _terminate_like_ctrl_c(signum: int, frame: FrameType | None) -> None:
    """`kill PID` then saves the pages held in memory, as Ctrl-C does (SIGKILL cannot be
    caught; checkpoints cover that)."""
    raise KeyboardInterrupt
