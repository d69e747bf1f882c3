"""`rara paper run|status`, `rara positions`, `rara orders`: paper trading a strategy on stored
candles (a replay at any speed), and what the journal and the ledger say about it.

The work is `rara.trading.session`'s; this module parses and prints. A replay shows progress on
stderr; stdout gets one JSON summary with the backtest comparison over the same bars. Running
the same command again resumes an interrupted run (the run id is a hash of strategy, market and
range unless --run-id names one).
"""

from __future__ import annotations

from typing import Any

import click

from rara.cli.data import parse_range
from rara.cli.interrupts import interrupt_exit_code, sigterm_interrupts
from rara.cli.output import emit, emit_lines, stderr_console
from rara.cli.params import EXCHANGE, SYMBOL, TIMEFRAME, UTC_TIME
from rara.cli.strategy_options import parse_params
from rara.domain.market import Timeframe
from rara.errors import BadInput, Interrupted, Refused
from rara.home import Home
from rara.runner.sandbox import BOUNDARIES


def parse_speed(text: str) -> float | None:
    if text == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise BadInput(
            "bad_speed", f"--speed {text!r} is not 'max' or a positive number", "e.g. --speed 3600"
        )
    return value


@click.command("run")
@click.argument("strategy")
@click.option("--symbol", type=SYMBOL, required=True, help="e.g. BTC/USDT")
@click.option("--timeframe", type=TIMEFRAME, required=True, help="e.g. 1h")
@click.option("--exchange", type=EXCHANGE, help="default: whichever holds the symbol")
@click.option(
    "--feed",
    type=click.Choice(["replay", "poll"]),
    default="replay",
    show_default=True,
    help="replay stored candles, or poll the exchange for bars as they close (until Ctrl-C)",
)
@click.option("--start", type=UTC_TIME, help="UTC date or datetime (inclusive)")
@click.option("--end", type=UTC_TIME, help="UTC date or datetime (exclusive)")
@click.option(
    "--speed",
    default="max",
    show_default=True,
    help="'max', or how many times faster than the timeframe the replay runs",
)
@click.option("--params", "params_json", default=None, help='JSON, e.g. {"fast": 10}')
@click.option("--backend", type=click.Choice(BOUNDARIES), default=None, help="sandbox backend")
@click.option("--run-id", default=None, help="name the run (default: derived, so it resumes)")
@click.option("--no-compare", is_flag=True, help="skip the backtest over the same bars")
@click.option("--quiet", is_flag=True, help="no progress on stderr")
def run(
    strategy: str,
    symbol: str,
    timeframe: Timeframe,
    exchange: str | None,
    feed: str,
    start: int | None,
    end: int | None,
    speed: str,
    params_json: str | None,
    backend: str | None,
    run_id: str | None,
    no_compare: bool,
    quiet: bool,
) -> None:
    """Paper trade STRATEGY (a file or promoted name) over stored candles; print a JSON summary
    with its trades, PnL and the comparison with the backtest over the same bars."""
    from rara.trading.report import compare_with_backtest, run_summary
    from rara.trading.session import open_paper_session

    start_ms, end_ms = parse_range(start, end)
    session = open_paper_session(
        Home.from_env(),
        strategy,
        symbol=symbol,
        timeframe=timeframe,
        exchange=exchange,
        start_ms=start_ms,
        end_ms=end_ms,
        speed=parse_speed(speed),
        params=parse_params(params_json),
        backend=backend,
        run_id=run_id,
        feed_kind="poll" if feed == "poll" else "replay",
    )
    with session, sigterm_interrupts():
        try:
            _run_with_progress(session, quiet)
        except KeyboardInterrupt as exc:
            if feed == "poll":  # a live feed never ends: a signal is how it stops
                emit(run_summary(session, None))
                return
            again = f"rara paper run {strategy} --symbol {symbol} --timeframe {timeframe}"
            raise Interrupted(
                f"paper run {session.deployment.run_id} interrupted; every bar it marked is kept",
                f"continue it with the same command (`{again} ...`)",
                exit_code=interrupt_exit_code(exc),
                details={"run_id": session.deployment.run_id},
            ) from None
        parity = None if no_compare or feed == "poll" else compare_with_backtest(session)
        result = run_summary(session, parity)
    if parity is not None and not parity.ok:
        raise RunRefused(
            "paper_backtest_mismatch",
            f"paper and backtest disagree over the same bars: {'; '.join(parity.mismatches[:3])}",
            _mismatch_hint(result),
            result,
        )
    if not result["ledger"]["ok"]:
        raise RunRefused(
            "paper_ledger_mismatch",
            f"the ledger does not agree after the run: {'; '.join(result['ledger']['problems'])}",
            "`rara ledger verify` names the transaction; stop trading on this home",
            result,
        )
    emit(result)


def _mismatch_hint(summary: dict[str, Any]) -> str:
    denied = summary["orders"]["denied"]
    if denied:  # the risk gate kept orders the backtest made: a limit binds, not a bug
        return (
            f"the risk gate denied {denied} order(s) ({summary['orders']['denials']}): "
            "`rara orders` shows each guard's numbers; loosen trading.risk to trade as backtested"
        )
    return (
        "a strategy whose trailing-window signal differs from its full-history one needs a "
        "longer declared lookback (see trading_signal_divergence events)"
    )


class RunRefused(Refused):
    """The run finished but its result is refused; the error JSON carries the run's summary, so
    stdout stays one document."""

    def __init__(self, code: str, message: str, suggestion: str, summary: dict[str, Any]) -> None:
        super().__init__(code, message, suggestion)
        self.summary = summary

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "summary": self.summary}


def _run_with_progress(session: Any, quiet: bool) -> None:
    if quiet:
        session.run()
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    total = getattr(session.feed, "total", None)  # a replay knows its bars; a poll does not
    bar = Progress(
        TextColumn("paper"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[line]}", markup=False),
        console=stderr_console,
    )
    with bar:
        task = bar.add_task("replay", total=total, line="")
        seen = [0]

        def tick() -> bool:
            p = session.engine.progress
            if p.bars != seen[0]:
                seen[0] = p.bars
                line = f"fills {p.fills} denied {p.denied}"
                bar.update(task, completed=p.bars, line=line)
            return False

        session.run(should_stop=tick)


@click.command("status")
@click.option("--limit", type=int, default=20, show_default=True)
def status(limit: int) -> None:
    """Paper runs (NDJSON, newest first): bars, equity, state."""
    from rara.trading.views import paper_runs

    emit_lines(paper_runs(Home.from_env(), limit))


@click.command("positions")
@click.option("--account", default=None, help="one account (default: every account)")
def positions(account: str | None) -> None:
    """Positions per account, from the ledger (NDJSON)."""
    from rara.trading.views import positions as rows

    emit_lines(rows(Home.from_env(), account))


@click.command("orders")
@click.option("--run-id", default=None, help="one run (default: every run)")
@click.option("--account", default=None, help="one account: its name, or paper:<run id>")
@click.option("--open", "only_open", is_flag=True, help="only orders still open")
@click.option("--limit", type=int, default=50, show_default=True)
def orders(run_id: str | None, account: str | None, only_open: bool, limit: int) -> None:
    """Orders from the journal (NDJSON, newest first): state, fills, the guard that denied."""
    from rara.trading.views import orders as rows

    emit_lines(rows(Home.from_env(), run_id, only_open, limit, account))
