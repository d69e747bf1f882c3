"""`rara backtest run|gate`: a strategy's metrics, or its research-gate verdict, on stored candles.

The strategy always runs in a sandbox (settings: sandbox.backend); only its signals come back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from rara.cli.data import parse_range
from rara.cli.output import emit
from rara.cli.params import EXCHANGE, FEE, SLIPPAGE, SYMBOL, TIMEFRAME, UTC_TIME
from rara.config import Settings, load_settings
from rara.data.catalog import default_catalog
from rara.domain.market import Candles, Instrument
from rara.errors import BadInput, Refused
from rara.runner.sandbox import BOUNDARIES, Sandbox, open_sandbox
from rara.runner.strategy_source import StrategySource, resolve_strategy
from rara_sandbox.results import EvaluationResult


@click.group("backtest")
def group() -> None:
    """Backtest a strategy (next-open fills, fees and slippage on both legs) or gate it."""


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


class Prepared:
    """Settings, strategy source, instrument, candles and a sandbox, from the shared options."""

    def __init__(
        self,
        strategy: str,
        symbol: str,
        timeframe: str,
        exchange: str | None,
        start: str | None,
        end: str | None,
        params_json: str | None,
        backend: str | None,
    ) -> None:
        self.settings: Settings = load_settings()
        self.src: StrategySource = resolve_strategy(strategy)
        self.params = parse_params(params_json)
        cat = default_catalog()
        self.inst: Instrument = cat.resolve(symbol, timeframe, exchange)
        self.candles: Candles = cat.load(self.inst, *parse_range(start, end))
        if len(self.candles) < 8:
            raise BadInput(
                "too_few_bars", f"{len(self.candles)} bars in that range", "widen --start/--end"
            )
        self.backend = backend or self.settings.sandbox.backend
        sb = self.settings.sandbox
        self.sandbox: Sandbox = open_sandbox(self.backend, sb.wall_timeout_s, sb.memory_mb)


def refuse_failed(name: str, ev: EvaluationResult) -> None:
    if ev.ok and ev.error is None:
        return
    err = ev.error
    code = err.code if err else "unknown"
    where = f" (line {err.line})" if err and err.line else ""
    raise Refused(
        f"strategy_{code}",
        f"{name}: {err.message if err else code}{where}",
        "`rara sandbox check` for static problems; fix the strategy and retry",
    )


def run_backtest_command(
    p: Prepared, fees: float | None, slippage: float | None, report: Path | None
) -> dict[str, Any]:
    from rara.validation.gate import backtest_config, backtest_window

    costs = p.settings.with_overrides(
        {"backtest.fee": fees, "backtest.slippage": slippage}
    ).backtest
    try:
        ev = p.sandbox.evaluate(p.src.source, p.candles, p.params)
    finally:
        p.sandbox.close()
    refuse_failed(p.src.name, ev)
    cfg = backtest_config(p.inst.exchange, costs)
    result, metrics = backtest_window(p.candles, ev.windows[-1], 0, len(p.candles), cfg)
    out: dict[str, Any] = {
        "strategy": p.src.name,
        "instrument": p.inst.key,
        "params": ev.params,
        "costs": {"fee": cfg.fee, "slippage": cfg.slippage, "init_cash": cfg.init_cash},
        "metrics": metrics.model_dump(mode="json"),
        "engine": result.engine,
    }
    if report is not None:
        from rara.backtest.report import write_report

        files = write_report(
            report,
            title=f"{p.src.name} on {p.inst.key}",
            candles=p.candles,
            result=result,
            metrics=metrics,
            meta={"meta": ev.meta, "params": ev.params},
        )
        out["report"] = {"html": str(files.html), "png": str(files.png)}
    return out


@group.command("run")
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
    p = Prepared(**market)
    emit(run_backtest_command(p, fees, slippage, report))


@group.command("gate")
@market_options
def gate(**market: Any) -> None:
    """The research gate's verdict on a strategy; exit 3 when it is rejected."""
    from rara.events.store import open_event_store
    from rara.validation.gate import ResearchGate
    from rara.validation.trials import TrialStore

    p = Prepared(**market)
    trials = TrialStore()
    try:
        judge = ResearchGate(p.sandbox, trials, p.settings.gates.research, p.settings.backtest)
        verdict = judge.judge(p.src.name, p.src.source, p.candles, p.inst, p.params)
    finally:
        p.sandbox.close()
        trials.close()
    with open_event_store() as events:
        events.append(
            "validation_gate_decided",
            {
                "strategy": verdict.strategy,
                "instrument": verdict.instrument,
                "decision": verdict.decision,
                "failed": verdict.failed,
                "n_trials": verdict.n_trials,
            },
            source="cli.backtest.gate",
            strategy_id=verdict.strategy_id,
        )
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
