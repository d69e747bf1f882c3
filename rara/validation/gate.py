"""Gate 1, research -> paper: an honest verdict on one candidate strategy.

The seed system promoted on in-sample Sharpe > 1 and drawdown < 15%. That floor stays, judged on
the validation segment; on top of it:

- the look-ahead, perturbation and warm-up checks (one sandbox evaluation, see `lookahead`);
- enough trades to mean anything, and still profitable at doubled costs;
- the deflated Sharpe ratio with N = every trial recorded on this market so far and the variance
  of their Sharpe ratios (so a lucky best-of-many is discounted by how many were tried);
- the probability of backtest overfitting over those trials, once there are enough of them;
- the holdout, read once, only when everything above passed: its Sharpe must be positive and its
  PSR above the threshold.

Every backtest is recorded as a trial before any judgement. The report lists every check with its
value, threshold and outcome; the research loop learns from it and the TUI shows it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import numpy as np

from rara.backtest.engine import BacktestConfig, BacktestResult, run_backtest
from rara.backtest.metrics import Metrics, compute_metrics
from rara.config import BacktestSettings, ResearchGateSettings
from rara.domain.gate import CheckName, GateCheck, GateReport, SegmentResult
from rara.domain.market import Candles, Instrument
from rara.domain.strategy import source_sha256, strategy_id
from rara.runner.sandbox import EvaluationRequest, Sandbox
from rara.validation import lookahead
from rara.validation.pbo import probability_of_backtest_overfitting
from rara.validation.splits import Split, time_split
from rara.validation.statistics import (
    deflated_sharpe_ratio,
    probabilistic_sharpe_ratio,
    sharpe_ratio,
)
from rara.validation.trials import TrialKey, TrialStore
from rara_sandbox.results import EvaluationResult, WindowResult


def backtest_config(
    exchange: str, settings: BacktestSettings, cost_multiplier: float = 1.0
) -> BacktestConfig:
    """The venue's costs from settings (explicit fee, per-exchange fee, else the venue's own)."""
    base = BacktestConfig.for_exchange(exchange)
    fee = settings.fee if settings.fee is not None else settings.fees.get(exchange, base.fee)
    return BacktestConfig(
        init_cash=settings.init_cash,
        fee=fee * cost_multiplier,
        slippage=settings.slippage * cost_multiplier,
        size_fraction=settings.size_fraction,
    )


def backtest_window(
    candles: Candles, w: WindowResult, lo: int, hi: int, cfg: BacktestConfig
) -> tuple[BacktestResult, Metrics]:
    """Backtest bars [lo, hi) of a full-history evaluation. Signals are causal (checked), so the
    slice equals what the strategy computes with all earlier history as warm-up."""
    seg = candles.slice(lo, hi)

    def cut(level: Any) -> Any:
        return level[lo:hi] if isinstance(level, np.ndarray) else level

    result = run_backtest(
        seg, w.entries[lo:hi], w.exits[lo:hi], cfg, cut(w.stop_loss), cut(w.take_profit)
    )
    return result, compute_metrics(result, seg)


def _sharpe(returns: np.ndarray) -> float | None:
    try:
        return float(sharpe_ratio(returns))
    except ValueError:  # flat equity: never traded
        return None


class ResearchGate:
    def __init__(
        self,
        sandbox: Sandbox,
        trials: TrialStore,
        gate: ResearchGateSettings,
        costs: BacktestSettings,
        seed: int = 0,
    ) -> None:
        self.sandbox, self.trials, self.gate, self.costs, self.seed = (
            sandbox,
            trials,
            gate,
            costs,
            seed,
        )
        self.timings: dict[str, float] = {}

    @contextmanager
    def watch(self, step: str) -> Iterator[None]:
        """Accumulate wall time per step (backtest, statistics, storage) for the benchmarks."""
        t = time.perf_counter()
        try:
            yield
        finally:
            self.timings[step] = self.timings.get(step, 0.0) + (time.perf_counter() - t) * 1000

    def split(self, candles: Candles) -> Split:
        g = self.gate
        if g.validation_start or g.holdout_start:
            return time_split(
                candles.ts, validation_start=g.validation_start, holdout_start=g.holdout_start
            )
        fractions = (
            g.train_fraction,
            g.validation_fraction,
            1.0 - g.train_fraction - g.validation_fraction,
        )
        return time_split(candles.ts, fractions=fractions)

    def evaluate(
        self, source: str, candles: Candles, params: dict[str, Any] | None = None
    ) -> EvaluationResult:
        """Signals on the full history and every look-ahead variant, in one sandbox process."""
        p = lookahead.plan(len(candles), seed=self.seed)
        request = EvaluationRequest(
            source=source, candles=candles, params=params, windows=p.windows, probes=p.probes
        )
        return self.sandbox.evaluate(request)

    def judge(
        self,
        name: str,
        source: str,
        candles: Candles,
        inst: Instrument,
        params: dict[str, Any] | None = None,
        run_id: str | None = None,
        evaluation: EvaluationResult | None = None,
    ) -> GateReport:
        g = self.gate
        checks: list[GateCheck] = []
        segments: dict[str, SegmentResult] = {}
        ev = evaluation or self.evaluate(source, candles, params)

        def report(sid: str | None, split: Split | None, n: int = 0, reads: int = 0) -> GateReport:
            failed = [c.name for c in checks if not c.passed and not c.skipped]
            return GateReport(
                strategy=name,
                strategy_id=sid,
                instrument=inst.key,
                passed=not failed,
                decision="paper_candidate" if not failed else "rejected",
                failed=failed,
                checks=checks,
                segments=segments,
                split=split.model_dump(mode="json") if split else None,
                n_trials=n,
                holdout_reads=reads,
            )

        if not ev.ok or ev.error is not None or ev.meta is None:
            err = ev.error
            checks.append(
                GateCheck(
                    name="sandbox",
                    passed=False,
                    value=err.code if err else None,
                    detail=err.message if err else "no result",
                )
            )
            return report(None, None)
        meta = ev.meta
        sid = strategy_id(source, str(meta["version"]))
        checks.append(
            GateCheck(
                name="sandbox", passed=True, value="ok", detail="signals computed in the sandbox"
            )
        )
        for o in lookahead.check(ev, int(meta["lookback"])):
            checks.append(
                GateCheck(
                    name=cast(CheckName, f"lookahead.{o.name}"),
                    passed=o.passed,
                    value=o.first_bar,
                    detail=o.detail,
                )
            )
        split = self.split(candles)
        full = ev.windows[-1]
        cfg = backtest_config(inst.exchange, self.costs)

        def run(
            segment: str, bounds: tuple[int, int], c: BacktestConfig = cfg
        ) -> tuple[BacktestResult, Metrics, SegmentResult]:
            lo, hi = bounds
            with self.watch("backtest"):
                result, metrics = backtest_window(candles, full, lo, hi, c)
            returns = result.returns
            key = TrialKey(
                source_sha256=source_sha256(source),
                params=dict(ev.params or {}),
                exchange=inst.exchange,
                symbol=inst.symbol,
                timeframe=str(inst.timeframe),
                segment=segment,
                start_ms=int(candles.ts[lo]),
                end_ms=int(candles.ts[hi - 1]),
                fee=c.fee,
                slippage=c.slippage,
            )
            with self.watch("storage"):
                trial, new = self.trials.record(
                    key, sid, returns, _sharpe(returns), metrics.model_dump(mode="json"), run_id
                )
            return (
                result,
                metrics,
                SegmentResult(
                    segment=segment, trial_id=trial.trial_id, new_trial=new, metrics=metrics
                ),
            )

        _, _, segments["train"] = run("train", split.train)
        val_result, val, segments["validation"] = run("validation", split.validation)
        checks.append(
            GateCheck(
                name="floor.sharpe",
                passed=(val.sharpe or 0.0) > g.min_sharpe,
                value=val.sharpe,
                threshold=g.min_sharpe,
                detail="validation Sharpe, annualised",
            )
        )
        checks.append(
            GateCheck(
                name="floor.max_drawdown",
                passed=val.max_drawdown < g.max_drawdown,
                value=val.max_drawdown,
                threshold=g.max_drawdown,
                detail="validation max drawdown",
            )
        )
        checks.append(
            GateCheck(
                name="min_trades",
                passed=val.trades >= g.min_trades,
                value=val.trades,
                threshold=g.min_trades,
                detail="trades on the validation segment",
            )
        )
        lo, hi = split.validation
        with self.watch("backtest"):
            _, stressed = backtest_window(
                candles, full, lo, hi, backtest_config(inst.exchange, self.costs, g.cost_multiplier)
            )
        checks.append(
            GateCheck(
                name="costs_doubled",
                passed=stressed.total_return > 0,
                value=stressed.total_return,
                threshold=0.0,
                detail=f"validation return at {g.cost_multiplier:g}x fees and slippage",
            )
        )

        market = {
            "exchange": inst.exchange,
            "symbol": inst.symbol,
            "timeframe": str(inst.timeframe),
            "segment": "validation",
        }
        with self.watch("storage"):
            n_trials = self.trials.count(**market)
            sharpes = self.trials.sharpes(**market)
        var = float(np.var(sharpes, ddof=1)) if sharpes.size > 1 else 0.0
        with self.watch("statistics"):
            try:
                dsr: float | None = deflated_sharpe_ratio(
                    val_result.returns, n_trials=n_trials, trial_sharpe_variance=var
                )
            except ValueError:
                dsr = None
        checks.append(
            GateCheck(
                name="deflated_sharpe",
                passed=dsr is not None and dsr >= g.min_dsr,
                value=dsr,
                threshold=g.min_dsr,
                detail=f"N = {n_trials} trials on this market, "
                f"Sharpe variance {var:.3g} (per period)",
            )
        )
        vs, ve = int(candles.ts[lo]), int(candles.ts[hi - 1])
        same_bars = self.trials.count(**market, start_ms=vs, end_ms=ve)
        if not all(c.passed for c in checks):
            # CSCV over every trial is the costliest check and cannot rescue a rejection
            checks.append(
                GateCheck(
                    name="pbo",
                    passed=True,
                    skipped=True,
                    threshold=g.max_pbo,
                    detail="not computed: earlier checks failed",
                )
            )
        elif same_bars >= g.pbo_min_trials:
            with self.watch("storage"):
                matrix = self.trials.returns_matrix(**market, start_ms=vs, end_ms=ve)
            with self.watch("statistics"):
                pbo = probability_of_backtest_overfitting(matrix).pbo
            checks.append(
                GateCheck(
                    name="pbo",
                    passed=pbo < g.max_pbo,
                    value=pbo,
                    threshold=g.max_pbo,
                    detail=f"CSCV over {same_bars} trials on the same bars",
                )
            )
        else:
            checks.append(
                GateCheck(
                    name="pbo",
                    passed=True,
                    skipped=True,
                    threshold=g.max_pbo,
                    detail=f"{same_bars} trials on these bars; judged from {g.pbo_min_trials}",
                )
            )

        reads = self.trials.count(source_sha256=source_sha256(source), segment="holdout")
        if all(c.passed for c in checks):
            # The holdout is read here and only here: after everything else has passed.
            hold_result, hold, segments["holdout"] = run("holdout", split.holdout)
            try:
                psr: float | None = probabilistic_sharpe_ratio(hold_result.returns)
            except ValueError:
                psr = None
            checks.append(
                GateCheck(
                    name="holdout.sharpe",
                    passed=(hold.sharpe or 0.0) > 0,
                    value=hold.sharpe,
                    threshold=0.0,
                    detail=f"holdout read #{reads + 1} for this source",
                )
            )
            checks.append(
                GateCheck(
                    name="holdout.psr",
                    passed=psr is not None and psr >= g.min_holdout_psr,
                    value=psr,
                    threshold=g.min_holdout_psr,
                    detail="probabilistic Sharpe ratio against 0 on the holdout",
                )
            )
        else:
            checks.append(
                GateCheck(
                    name="holdout",
                    passed=False,
                    skipped=True,
                    detail="not read: earlier checks failed",
                )
            )
        return report(sid, split, n_trials, reads)
