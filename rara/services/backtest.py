"""Backtest or gate one strategy on stored candles: the service behind `rara backtest run|gate`
and `rara sandbox run`.

The strategy always runs in a sandbox; only its signals come back. The gate never runs code: this
module evaluates the candidate (signals and every look-ahead variant in one sandbox process),
reads the evaluation once (`CheckedEvaluation`) and hands it to the gate to judge, with a
`CandidateProver` that runs the exhaustive causality proof in a second sandbox process when the
gate asks for it.

It sits above `rara.validation` (which may not import the runner) and `rara.runner`, and below
the CLI. The gate's modules are imported by the functions that judge: `backtest run` starts
without them (its cold start is vectorbt's import and little else).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rara.backtest.engine import BacktestConfig
from rara.backtest.window import backtest_window
from rara.closing import Closing
from rara.config import BacktestSettings, Settings, load_settings
from rara.data.catalog import Catalog
from rara.domain.gate import GateReport
from rara.domain.market import Candles, Instrument, Timeframe
from rara.domain.strategy import source_sha256
from rara.errors import BadInput, Refused
from rara.home import Home
from rara.registry import Registry
from rara.runner.sandbox import EvaluationRequest, ProofRequest, Sandbox, open_sandbox
from rara.runner.strategy_source import StrategySource, resolve_strategy
from rara_sandbox.results import EvaluationResult

if TYPE_CHECKING:  # the gate's side, imported by the functions that judge (not `backtest run`)
    from rara.validation.candidate import CheckedEvaluation
    from rara.validation.causality import CausalityProof
    from rara.validation.gate import ResearchGate

__all__ = [
    "CandidateProver",
    "StrategyOnMarket",
    "backtest_strategy",
    "evaluate_candidate",
    "gate_strategy",
    "judge_candidate",
    "refuse_failed",
    "signals",
]

MIN_BARS = 8  # the look-ahead plan's floor (see `lookahead.plan`)


@dataclass
class StrategyOnMarket(Closing):
    """A strategy's source on one market's candles, with the settings and the sandbox to run it.
    Owns the sandbox: use it as a context manager (or call `close`)."""

    home: Home
    settings: Settings
    strategy: StrategySource
    params: dict[str, Any] | None
    inst: Instrument
    candles: Candles
    backend: str
    sandbox: Sandbox

    @classmethod
    def open(
        cls,
        strategy: str,
        *,
        home: Home,
        symbol: str,
        timeframe: Timeframe | str,
        exchange: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        params: dict[str, Any] | None = None,
        backend: str | None = None,
    ) -> StrategyOnMarket:
        """Resolve the strategy (a file or a promoted name) and the instrument, load the candles
        in [start_ms, end_ms), and open a sandbox (default backend: the sandbox.backend setting)."""
        settings = load_settings(home)
        source = resolve_strategy(strategy, Registry(home))
        cat = Catalog(home.data_dir)
        inst = cat.resolve(symbol, timeframe, exchange)
        candles = cat.load(inst, start_ms, end_ms)
        if len(candles) < MIN_BARS:
            raise BadInput(
                "too_few_bars",
                f"{len(candles)} bars in that range",
                "widen the range: an earlier start or a later end",
            )
        chosen = backend or settings.sandbox.backend
        sb = settings.sandbox
        sandbox = open_sandbox(
            chosen, sb.wall_timeout_s, sb.memory_mb, sb.proof_us_per_bar, sb.cpus, sb.image
        )
        return cls(home, settings, source, params, inst, candles, chosen, sandbox)

    def close(self) -> None:
        self.sandbox.close()


def refuse_failed(name: str, ev: EvaluationResult) -> None:
    """A strategy that produced no signals is refused (exit 3), with the sandbox's reason."""
    if not ev.failed:
        return
    err = ev.error
    code = err.code if err else "unknown"
    where = f" (line {err.line})" if err and err.line else ""
    raise Refused(
        f"strategy_{code}",
        f"{name}: {err.message if err else code}{where}",
        "`rara sandbox check` for static problems; fix the strategy and retry",
    )


def signals(market: StrategyOnMarket) -> EvaluationResult:
    """The strategy's signals on the full history (refused when it produced none); closes the
    sandbox."""
    with market:
        ev = market.sandbox.evaluate(
            EvaluationRequest(
                source=market.strategy.source, candles=market.candles, params=market.params
            )
        )
    refuse_failed(market.strategy.name, ev)
    return ev


def backtest_strategy(
    market: StrategyOnMarket,
    costs: BacktestSettings,
    report: Path | None = None,
) -> dict[str, Any]:
    """Metrics of the strategy over every bar at `costs` (and an HTML tear sheet at `report`)."""
    ev = signals(market)
    cfg = BacktestConfig.from_settings(market.inst.exchange, costs)
    result, metrics = backtest_window(market.candles, ev.windows[-1], 0, len(market.candles), cfg)
    name = market.strategy.name
    out: dict[str, Any] = {
        "strategy": name,
        "instrument": market.inst.key,
        "params": ev.params,
        "costs": {"fee": cfg.fee, "slippage": cfg.slippage, "init_cash": cfg.init_cash},
        "metrics": metrics.model_dump(mode="json"),
        "engine": result.engine,
    }
    if report is not None:
        from rara.backtest.report import write_report

        files = write_report(
            report,
            title=f"{name} on {market.inst.key}",
            candles=market.candles,
            result=result,
            metrics=metrics,
            meta={"meta": ev.meta, "params": ev.params},
        )
        out["report"] = {"html": str(files.html), "png": str(files.png)}
    return out


def evaluate_candidate(
    sandbox: Sandbox,
    source: str,
    candles: Candles,
    params: dict[str, Any] | None = None,
    seed: int = 0,
    holdout_start: int | None = None,
) -> CheckedEvaluation:
    """Signals on the full history and every look-ahead variant, in one sandbox process, read
    once. The probes' positions come from the run's `seed` and the source's sha256; failures
    first seen at bars from `holdout_start` on are kept for the gate's hidden decision."""
    from rara.validation.candidate import CheckedEvaluation

    ev = sandbox.evaluate(first_request(source, candles, params, seed))
    return CheckedEvaluation.of(source, ev, holdout_start)


def first_request(
    source: str, candles: Candles, params: dict[str, Any] | None, seed: int
) -> EvaluationRequest:
    """A candidate's first evaluation: the full history, the look-ahead plan's windows and its
    probes, their positions drawn from the run's `seed` and the source's sha256."""
    from rara.validation import lookahead

    plan = lookahead.plan(len(candles), seed=lookahead.probe_seed(seed, source_sha256(source)))
    return EvaluationRequest(
        source=source,
        candles=candles,
        params=params,
        windows=plan.windows,
        probes=plan.probes,
        early_prefixes=plan.early_prefixes,
    )


@dataclass(frozen=True)
class CandidateProver:
    """The `CausalityProver` of one evaluated candidate: runs the proof (every prefix and trailing
    window, `ProofRequest`) in a new process of `sandbox` on the same source, candles and params,
    and compares it with the first evaluation (`first`), which also makes it the determinism
    check: the proof's own full history must equal the first process's. It proves every bar from
    the declared lookback on (at the latest from the bar the gate asks for)."""

    sandbox: Sandbox
    first: CheckedEvaluation
    candles: Candles
    params: dict[str, Any] | None = None

    def __call__(self, from_bar: int, trailing_window: int) -> CausalityProof:
        # The gate asks from the validation start; the proof starts earlier, at the declared
        # lookback (before it, signals do not count by the API's own definition), so a leak
        # confined to the first bars meets the exhaustive check and not only the sampled probes.
        from rara.validation.causality import read_proof

        meta = self.first.meta
        if meta is not None:
            from_bar = min(from_bar, meta.lookback)
        t = time.perf_counter()
        ev = self.sandbox.evaluate(
            EvaluationRequest(
                source=self.first.source,
                candles=self.candles,
                params=self.params,
                proof=ProofRequest(from_bar=from_bar, trailing_window=trailing_window),
            )
        )
        elapsed = (time.perf_counter() - t) * 1000.0
        full = self.first.evaluation.windows[-1]
        return read_proof(ev, full, from_bar, trailing_window, round(elapsed, 3))


def judge_candidate(
    sandbox: Sandbox,
    gate: ResearchGate,
    *,
    name: str,
    source: str,
    candles: Candles,
    inst: Instrument,
    params: dict[str, Any] | None = None,
    run_id: str | None = None,
    seed: int = 0,
) -> GateReport:
    """Evaluate a candidate in `sandbox` (probes drawn from `seed`) and have `gate` judge it; the
    gate asks `sandbox` for the causality proof when everything else passed."""
    holdout_start = gate.split(candles).holdout[0]
    checked = evaluate_candidate(sandbox, source, candles, params, seed, holdout_start)
    prove = CandidateProver(sandbox, checked, candles, params)
    return gate.judge(checked, name=name, candles=candles, inst=inst, run_id=run_id, prove=prove)


def gate_strategy(market: StrategyOnMarket) -> GateReport:
    """The research gate's verdict on the strategy, its trials recorded and the decision
    published as ``validation_gate_decided``; closes the sandbox."""
    from rara.domain.events import ValidationGateDecided, ValidationGateWeakened
    from rara.events.store import open_event_store
    from rara.validation.gate import ResearchGate
    from rara.validation.trials import TrialStore

    settings = market.settings
    with market, TrialStore(market.home.state_db) as trials:
        gate = ResearchGate(trials, settings.gates.research, settings.backtest)
        verdict = judge_candidate(
            market.sandbox,
            gate,
            name=market.strategy.name,
            source=market.strategy.source,
            candles=market.candles,
            inst=market.inst,
            params=market.params,
        )
    with open_event_store(market.home.state_db) as events:
        if verdict.weakened:
            events.append(
                ValidationGateWeakened(gate="research", thresholds=verdict.weakened),
                source="cli.backtest.gate",
                strategy_id=verdict.strategy_id,
            )
        events.append(
            ValidationGateDecided(
                strategy=verdict.strategy,
                instrument=verdict.instrument,
                decision=verdict.decision,
                failed=verdict.failed,
                n_trials=verdict.n_trials,
            ),
            source="cli.backtest.gate",
            strategy_id=verdict.strategy_id,
        )
    return verdict
