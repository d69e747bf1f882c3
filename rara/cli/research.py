"""`rara research`: run the research loop and inspect what it did."""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rara.cli.interrupts import interrupt_exit_code
from rara.cli.output import emit, emit_lines, stderr_console
from rara.cli.params import EXCHANGE, SYMBOL, TIMEFRAME
from rara.config import load_settings, weakened_warning
from rara.domain.events import StopReason
from rara.domain.gate import WeakenedThreshold
from rara.domain.market import Timeframe, parse_utc
from rara.domain.text import printable
from rara.errors import EXIT_SIGTERM, BadInput, Interrupted
from rara.home import Home
from rara.llm.ports import LlmUnusable
from rara.registry import Registry
from rara.research.executor import EXECUTORS
from rara.research.outcomes import Progress as LoopProgress
from rara.research.replay_state import diverged
from rara.research.run_setup import PROPOSERS, ExecutorChoice, RunConfig, parse_duration
from rara.research.store import ResearchStore
from rara.research.summary import next_steps_text
from rara.runner.sandbox import BOUNDARIES

if TYPE_CHECKING:  # a session (candles, sandbox, engine) is imported by the commands that open one
    from rara.research.session import ResearchSession

log = logging.getLogger(__name__)

# what stopped a run, said with the flag that set the limit
STOPPED_BY: dict[StopReason, str] = {
    "iterations": "reached --iterations",
    "max_cost_usd": "reached --max-cost-usd",
    "max_duration": "reached --max-duration",
}


@click.command("run")
@click.option("--iterations", type=int, default=None, help="experiments to run (default 20)")
@click.option("--symbol", type=SYMBOL, default=None, help="e.g. ETH/USDT  [default: BTC/USDT]")
# the Rust original's name for --symbol; `make run` and old scripts still pass it
@click.option("--contract", type=SYMBOL, default=None, hidden=True)
@click.option("--timeframe", type=TIMEFRAME, default="1h", show_default=True)
@click.option(
    "--exchange", type=EXCHANGE, default=None, help="default: whichever exchange holds the symbol"
)
@click.option("--proposer", type=click.Choice(PROPOSERS), default="builtin", show_default=True)
@click.option("--model", default=None, help="litellm model string (default: llm.model setting)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--max-cost-usd", type=float, default=None, help="stop once LLM spend reaches this")
@click.option("--max-duration", default=None, help="stop after this long, e.g. 10m")
@click.option("--resume", "resume_id", default=None, help="continue RUN_ID after a crash")
@click.option(
    "--replay",
    "replay_id",
    default=None,
    help="run recorded RUN_ID again from its recorded LLM replies (implies --proposer replay)",
)
@click.option(
    "--backend",
    type=click.Choice(BOUNDARIES),
    default=None,
    help="sandbox backend (default: sandbox.backend setting)",
)
@click.option(
    "--as-of",
    "as_of",
    default=None,
    help="use only bars opening before this UTC time (e.g. 2024-06-01); default: all stored",
)
@click.option(
    "--batch",
    type=int,
    default=None,
    help="candidates evaluated together per step; part of the run (default: 2 built-in, 1 LLM)",
)
@click.option(
    "--executor",
    type=click.Choice(EXECUTORS),
    default="thread",
    show_default=True,
    help="where candidates are evaluated: this machine, a Dask scheduler, or a local Dask cluster",
)
@click.option("--scheduler", default=None, help="--executor dask: e.g. tls://10.0.0.5:8786")
@click.option(
    "--workers", type=int, default=2, show_default=True, help="--executor dask-local: processes"
)
@click.option("--quiet", is_flag=True, help="no progress on stderr")
def run(
    iterations: int | None,
    symbol: str | None,
    contract: str | None,
    timeframe: Timeframe,
    exchange: str | None,
    proposer: str,
    model: str | None,
    seed: int,
    max_cost_usd: float | None,
    max_duration: str | None,
    resume_id: str | None,
    replay_id: str | None,
    backend: str | None,
    as_of: str | None,
    batch: int | None,
    executor: str,
    scheduler: str | None,
    workers: int,
    quiet: bool,
) -> None:
    """Run the loop until --iterations, --max-cost-usd or --max-duration; JSON summary out."""
    from rara.research.session import ResearchSession

    if symbol and contract and symbol != contract:
        raise BadInput(
            "bad_symbol",
            f"--symbol {symbol} and --contract {contract} disagree",
            "--contract is the old name of --symbol; pass only --symbol",
        )
    home = Home.from_env()
    settings = load_settings(home)
    warning = weakened_warning(settings.gates.research.weakened())
    if warning:
        log.warning("%s", warning)
    if iterations is not None and iterations < 1:
        raise BadInput("bad_iterations", "--iterations must be at least 1", "e.g. --iterations 20")
    if max_cost_usd is not None and not (0 <= max_cost_usd < math.inf):
        raise BadInput(
            "bad_max_cost",
            f"--max-cost-usd {max_cost_usd!r} must be a number of dollars, 0 or more",
            "e.g. --max-cost-usd 0.50 (leave it out for no limit)",
        )
    if resume_id and (replay_id or proposer == "replay"):
        raise BadInput(
            "replay_resume",
            "a replay cannot be resumed: it runs in a scratch home of its own, from the start",
            f"run `rara research run --replay {replay_id or 'RUN_ID'}` again",
        )
    where = ExecutorChoice(executor, scheduler, workers)
    if batch is not None and batch < 1:
        raise BadInput("bad_batch", f"--batch {batch}: at least one candidate", "e.g. --batch 8")
    if resume_id:
        if batch is not None:
            raise BadInput(
                "batch_of_resume",
                "a resumed run keeps the batch it was started with",
                f"leave out --batch: `rara research run --resume {resume_id}`",
            )
        session = ResearchSession.resume(resume_id, settings, home, iterations, where)
    else:
        cfg = RunConfig(
            exchange=exchange or "",
            symbol=symbol or contract or "BTC/USDT",
            timeframe=str(timeframe),
            proposer=proposer,
            model=model or settings.llm.model,
            seed=seed,
            iterations=iterations or 20,
            max_cost_usd=max_cost_usd,
            max_duration_s=parse_duration(max_duration),
            backend=backend or settings.sandbox.backend,
            as_of_ms=as_of_ms(as_of),
            batch=batch,
        )
        try:
            if replay_id or proposer == "replay":
                session = ResearchSession.replay(replay_id, _resolved(cfg, home), settings, home)
            else:
                session = ResearchSession(_resolved(cfg, home), settings, home, executor=where)
        except BadInput as exc:
            if exc.code != "llm_not_configured":
                raise
            raise BadInput(exc.code, exc.message, f"pass --model, or {exc.suggestion}") from None
    try:
        with session:
            try:
                summary = _run_with_progress(session, quiet)
            except LlmUnusable as exc:  # a setup fault stopped the run: say how to go on
                if session.replay_origin is not None:
                    raise session.replay_origin.missed(exc) from None
                raise resumable(exc, session.run_id) from None
            summary["stopped"] = STOPPED_BY.get(summary["stop_reason"], summary["stopped"])
            report = session.best_report(summary)
            summary["best_report"] = str(report) if report else None
            summary["next_commands"] = session.next_commands(summary, report)
    except KeyboardInterrupt as exc:
        raise _interrupted(session, exc) from None
    if summary.get("replay", {}).get("reproduced") is False:
        raise diverged(summary["replay"])
    emit(summary)
    if not quiet:
        click.echo(printable(next_steps_text(summary)), err=True)


def resumable(exc: LlmUnusable, run_id: str) -> LlmUnusable:
    """`exc` with the command that resumes the run once the setup is fixed (not for a replay
    miss: resuming cannot bring back a reply that was never recorded)."""
    if exc.exit_code != LlmUnusable.exit_code:
        return exc
    how = f"`rara research run --resume {run_id}`"
    return LlmUnusable(exc.code, exc.message, f"{exc.suggestion}: {how}", exc.call)


def _interrupted(session: ResearchSession, exc: KeyboardInterrupt) -> Interrupted:
    """What a signal ended: the run's id and the command that continues it (a run that had not
    been recorded yet has nothing to continue)."""
    code = interrupt_exit_code(exc)
    how = "SIGTERM" if code == EXIT_SIGTERM else "Ctrl-C (SIGINT)"
    if not session.started:
        return Interrupted(
            f"research run interrupted by {how} before it started; nothing was recorded",
            "rerun the same command",
            exit_code=code,
        )
    if session.replay_origin is not None:  # a replay is never resumed (it would go live)
        again = f"rara research run --replay {session.run_id}"
        return Interrupted(
            f"replay of {session.run_id} interrupted by {how}; its scratch home is discarded",
            f"replay it again from the start with `{again}`",
            exit_code=code,
            details={"run_id": session.run_id, "replay_command": again},
        )
    resume = f"rara research run --resume {session.run_id}"
    return Interrupted(
        f"research run {session.run_id} interrupted by {how}; what it finished is kept",
        f"continue it with `{resume}`",
        exit_code=code,
        details={"run_id": session.run_id, "resume_command": resume},
    )


def _resolved(cfg: RunConfig, home: Home) -> RunConfig:
    from rara.data.catalog import Catalog

    inst = Catalog(home.data_dir).resolve(cfg.symbol, cfg.timeframe, cfg.exchange or None)
    cfg.exchange, cfg.symbol, cfg.timeframe = inst.exchange, inst.symbol, str(inst.timeframe)
    return cfg


def _run_with_progress(session: ResearchSession, quiet: bool) -> dict[str, Any]:
    if quiet:
        return session.run()
    bar = Progress(
        TextColumn("research"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[line]}", markup=False),
        console=stderr_console,
        transient=False,
    )
    with bar:
        task = bar.add_task("run", total=session.cfg.iterations, line="")

        def show(p: LoopProgress) -> None:
            bar.update(task, completed=p.tried, line=printable(p.line(), one_line=True))

        return session.run(on_progress=show)


@click.command("list")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--runs", is_flag=True, help="list runs instead of experiments")
def list_(limit: int, runs: bool) -> None:
    """Recent experiments (NDJSON, newest first), or runs with --runs."""
    with ResearchStore(Home.from_env().state_db) as store:
        if runs:
            emit_lines(store.runs(limit))
            return
        emit_lines(
            {
                "experiment_id": e.experiment_id,
                "run_id": e.run_id,
                "iteration": e.iteration,
                "family": e.family,
                "origin": e.origin,
                "outcome": e.outcome,
                "failed_check": e.failed_check,
                "validation_sharpe": e.validation_sharpe,
                "validation_trades": e.validation_trades,
                "cost_usd": e.cost_usd,
                "created_at": e.created_at,
            }
            for e in store.latest(limit)
        )


@click.command("show")
@click.option("--experiment-id", "experiment_id", required=True)
def show(experiment_id: str) -> None:
    """One experiment in full: hypothesis, source, gate report, LLM calls, run calibration."""
    with ResearchStore(Home.from_env().state_db) as store:
        e = store.get(experiment_id)
        if e is None:
            raise BadInput(
                "unknown_experiment",
                f"no experiment {experiment_id!r}",
                "`rara research list` shows experiment ids",
            )
        from rara.research.session import experiment_view

        emit(experiment_view(e, store.of_run(e.run_id)))


@click.command("promoted")
def promoted() -> None:
    """Paper candidates the loop has promoted (NDJSON manifests, with the gate thresholds that
    were loosened when each was promoted under ``weakened``); a directory whose manifest is not
    valid is skipped with a warning on stderr, and so is said each one a weakened gate promoted."""
    listing = Registry(Home.from_env()).listing(origins=["promoted"])
    for problem in listing.problems:
        log.warning("skipped %s (%s)", problem.message, problem.suggestion)
    for e in listing.strategies:
        if e.manifest.weakened:
            loosened = ", ".join(w.setting for w in e.manifest.weakened)
            log.warning("%s was promoted by a weakened gate (%s)", e.manifest.name, loosened)
    emit_lines(
        {**e.manifest.to_json(), "weakened": _weakened(e.manifest.weakened), "path": str(e.path)}
        for e in listing.strategies
    )


def _weakened(weakened: list[WeakenedThreshold] | None) -> list[dict[str, Any]] | None:
    """The loosened thresholds of a promotion: [] none, None not recorded (promoted before
    rara recorded them)."""
    return None if weakened is None else [w.model_dump() for w in weakened]


def as_of_ms(text: str | None) -> int | None:
    """``--as-of`` as UTC epoch ms; a clear error for a time that is not one."""
    if text is None:
        return None
    try:
        return parse_utc(text)
    except ValueError as exc:
        raise BadInput(
            "bad_as_of", f"--as-of {text!r} is not a time: {exc}", "e.g. --as-of 2024-06-01"
        ) from None
