"""Gate 1, research -> paper: an honest verdict on one candidate strategy.

The gate is a judge: it never runs strategy code. The caller (the research loop, `rara backtest
gate`) runs the candidate in a sandbox, reads the evaluation once (`CheckedEvaluation`) and hands
it here. The seed system promoted on in-sample Sharpe > 1 and drawdown < 15%. That floor stays,
judged on the validation segment; on top of it:

- the strategy's declared timeframe must be the one of the candles it is judged on;
- the look-ahead, perturbation and warm-up checks (from the one sandbox evaluation, see
  `lookahead`);
- enough trades to mean anything, and still profitable at doubled costs;
- the deflated Sharpe ratio with N = the effectively independent trials that competed for this
  promotion on every market of the home (clusters of correlated return series, floored by the
  trials made outside rara) and the variance luck gives a trial's Sharpe (or, stricter, the
  clusters' spread), so a lucky best-of-many is discounted by how many were tried and padding
  cannot lower the bar (`effective_trials`); computed only for a candidate that passed
  everything before it;
- the probability of backtest overfitting over those trials, once there are enough of them;
- the exhaustive causality proof (`causality`): signals on every prefix from the validation start
  equal the full-history signals, trailing windows of the declared lookback agree, and a second
  process gives the same signals; the caller runs it (`CausalityProver`) only when everything
  above passed, since it costs one evaluation per bar;
- the holdout, only when everything above passed, and only while its read budget lasts (reads
  are keyed by the signals and charged to every holdout they overlap, `holdout`): its Sharpe
  must be positive and its PSR above the threshold.

Thresholds loosened below their defaults are allowed and listed in the report (`weakened`).

Every backtest is recorded as a trial before any judgement. The report lists every check with its
value, threshold and outcome; the research loop learns from it and the TUI shows it. Each check
is one function in `rara.validation.checks`; this module runs the backtests they measure and
records the trials, in the report's order.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from rara.backtest.engine import BacktestConfig, BacktestResult
from rara.backtest.metrics import Metrics
from rara.backtest.window import backtest_window
from rara.config import BacktestSettings, ResearchGateSettings
from rara.domain.gate import GateCheck, GateReport, Segment, SegmentResult, TrialCount
from rara.domain.market import Candles, Instrument
from rara.domain.strategy import StrategyRef
from rara.validation.candidate import CheckedEvaluation
from rara.validation.causality import CausalityProver, causality_checks, holdout_mismatches
from rara.validation.checks import (
    HOLDOUT_NOT_READ,
    Threshold,
    all_passed,
    cost_check,
    deflated_sharpe_check,
    deflated_sharpe_skipped,
    floor_checks,
    holdout_checks,
    holdout_lookahead_check,
    lookahead_checks,
    meta_checks,
    pbo_skipped,
    sandbox_checks,
)
from rara.validation.effective_trials import TrialCounter
from rara.validation.holdout import HoldoutSpan, budget_check, signals_fingerprint
from rara.validation.pbo import probability_of_backtest_overfitting
from rara.validation.splits import Split, time_split
from rara.validation.statistics import (
    deflated_sharpe_ratio,
    probabilistic_sharpe_ratio,
    sharpe_ratio,
)
from rara.validation.trials import TrialKey, TrialStore

__all__ = ["HoldoutOutcome", "ResearchGate"]


def _sharpe(returns: npt.NDArray[np.float64]) -> float | None:
    try:
        return float(sharpe_ratio(returns))
    except ValueError:  # flat equity: never traded
        return None


@dataclass(frozen=True)
class _Market:
    """What every segment backtest of one judgement shares."""

    candles: Candles
    inst: Instrument
    checked: CheckedEvaluation
    ref: StrategyRef
    run_id: str | None

    @cached_property
    def fingerprint(self) -> str:
        """What holdout reads are keyed by: the full-history signals, not the source."""
        return signals_fingerprint(self.checked.evaluation.windows[-1])

    def trial_filter(self) -> dict[str, str]:
        return {
            "exchange": self.inst.exchange,
            "symbol": self.inst.symbol,
            "timeframe": str(self.inst.timeframe),
            "segment": "validation",
        }


@dataclass(frozen=True)
class HoldoutOutcome:
    """The holdout step: its checks (the budget's, then the holdout's when it was read), the
    holdout segment (None: not read) and the reads charged to this holdout, this one included."""

    checks: list[GateCheck]
    segment: SegmentResult | None
    reads: int


class ResearchGate:
    """Judges evaluated candidates on one set of gate settings and costs, recording every segment
    backtest as a trial. Holds no sandbox: it never runs strategy code."""

    def __init__(
        self, trials: TrialStore, gate: ResearchGateSettings, costs: BacktestSettings
    ) -> None:
        self.trials, self.gate, self.costs = trials, gate, costs
        self.counter = TrialCounter(trials)  # clusters each trial once per gate
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

    def judge(
        self,
        checked: CheckedEvaluation,
        *,
        name: str,
        candles: Candles,
        inst: Instrument,
        run_id: str | None = None,
        prove: CausalityProver | None = None,
    ) -> GateReport:
        """The verdict on one evaluated candidate, reported under `name`. `prove` runs the
        exhaustive causality proof (only asked for when every earlier check passed); without it
        nothing is promoted."""
        checks = sandbox_checks(checked)
        if checked.failed or checked.meta is None or checked.ref is None:
            return self._report(name, inst, checks, {}, None, None)
        market = _Market(candles, inst, checked, checked.ref, run_id)
        checks += meta_checks(checked.meta, inst)
        checks += lookahead_checks(checked.lookahead)
        split = self.split(candles)
        cfg = BacktestConfig.from_settings(inst.exchange, self.costs)
        segments: dict[Segment, SegmentResult] = {}
        _, segments["train"] = self._segment(market, "train", split.train, cfg)
        val_result, segments["validation"] = self._segment(
            market, "validation", split.validation, cfg
        )
        checks += floor_checks(
            segments["validation"].metrics, self.gate, returns=val_result.returns
        )
        checks += self.cost_checks(market, split)
        count, trial_checks = self._trial_checks(market, split, val_result, checks)
        checks += trial_checks
        if all_passed(checks):
            with self.watch("causality"):
                proof = prove(split.validation[0], checked.meta.lookback + 1) if prove else None
            checks += causality_checks(proof, split.holdout[0])
            checks.append(
                holdout_lookahead_check(
                    checked.holdout_lookahead, holdout_mismatches(proof, split.holdout[0])
                )
            )
        reads = 0
        if all_passed(checks):
            # The holdout is read here and only here: after everything else has passed.
            holdout = self._read_holdout(market, split, cfg)
            checks += holdout.checks
            reads = holdout.reads
            if holdout.segment is not None:
                segments["holdout"] = holdout.segment
        else:
            checks.append(HOLDOUT_NOT_READ)
        return self._report(
            name, inst, checks, segments, split, market.ref.strategy_id, count, reads, market
        )

    def read_holdout(
        self,
        checked: CheckedEvaluation,
        *,
        candles: Candles,
        inst: Instrument,
        run_id: str | None = None,
    ) -> HoldoutOutcome:
        """The gate's last step on its own: charge the holdout's read budget and, if a unit is
        left, read the holdout of an evaluated candidate. `judge` takes this step only when
        every other check passed; taken alone it promotes nothing, but it reads and is charged
        like any other read."""
        if checked.failed or checked.ref is None:
            raise ValueError("only a candidate that produced signals can read a holdout")
        market = _Market(candles, inst, checked, checked.ref, run_id)
        cfg = BacktestConfig.from_settings(inst.exchange, self.costs)
        return self._read_holdout(market, self.split(candles), cfg)

    # ---- the steps ----------------------------------------------------------------------------
    def _backtest(
        self, market: _Market, bounds: tuple[int, int], cfg: BacktestConfig
    ) -> tuple[BacktestResult, Metrics]:
        lo, hi = bounds
        with self.watch("backtest"):
            return backtest_window(
                market.candles, market.checked.evaluation.windows[-1], lo, hi, cfg
            )

    def _segment(
        self, market: _Market, segment: Segment, bounds: tuple[int, int], cfg: BacktestConfig
    ) -> tuple[BacktestResult, SegmentResult]:
        """Backtest one segment and record it as a trial (before any judgement reads it)."""
        result, metrics = self._backtest(market, bounds, cfg)
        lo, hi = bounds
        returns = result.returns
        key = TrialKey(
            source_sha256=market.ref.source_sha256,
            params=dict(market.checked.evaluation.params or {}),
            exchange=market.inst.exchange,
            symbol=market.inst.symbol,
            timeframe=str(market.inst.timeframe),
            segment=segment,
            start_ms=int(market.candles.ts[lo]),
            end_ms=int(market.candles.ts[hi - 1]),
            fee=cfg.fee,
            slippage=cfg.slippage,
        )
        with self.watch("storage"):
            trial, new = self.trials.record(
                key,
                market.ref.strategy_id,
                returns,
                _sharpe(returns),
                metrics.model_dump(mode="json"),
                market.run_id,
            )
        return result, SegmentResult(
            segment=segment, trial_id=trial.trial_id, new_trial=new, metrics=metrics
        )

    def cost_checks(self, market: _Market, split: Split) -> list[GateCheck]:
        stressed_cfg = BacktestConfig.from_settings(
            market.inst.exchange, self.costs, self.gate.cost_multiplier
        )
        _, stressed = self._backtest(market, split.validation, stressed_cfg)
        return cost_check(stressed, self.gate)

    def _trial_checks(
        self, market: _Market, split: Split, validation: BacktestResult, earlier: list[GateCheck]
    ) -> tuple[TrialCount | int, list[GateCheck]]:
        """DSR over the trials that competed for this promotion (every market of the home,
        clustered; see `effective_trials`), then PBO over the trials on the same bars. Neither
        is computed for a candidate already rejected: the raw count is returned instead."""
        g = self.gate
        if not all_passed(earlier):
            with self.watch("storage"):
                raw = self.trials.count(segment="validation")
            why = "not computed: earlier checks failed"
            return raw, [deflated_sharpe_skipped(g.min_dsr, raw), pbo_skipped(g.max_pbo, why)]
        with self.watch("statistics"):
            count = self.counter.count(
                floor=g.min_trials,
                period_ms=market.inst.timeframe.ms,
                n_obs=int(validation.returns.size),
                variance=g.dsr_variance,
            )
            try:
                dsr: float | None = deflated_sharpe_ratio(
                    validation.returns,
                    n_trials=count.used,
                    trial_sharpe_variance=count.sharpe_variance,
                )
            except ValueError:
                dsr = None
        checks = [deflated_sharpe_check(dsr, count, g.min_dsr)]
        where = market.trial_filter()
        lo, hi = split.validation
        start_ms, end_ms = int(market.candles.ts[lo]), int(market.candles.ts[hi - 1])
        same_bars = self.trials.count(**where, start_ms=start_ms, end_ms=end_ms)
        if not all_passed(earlier + checks):
            # CSCV over every trial is the costliest check and cannot rescue a rejection
            checks.append(pbo_skipped(g.max_pbo, "not computed: earlier checks failed"))
        elif same_bars >= g.pbo_min_trials:
            with self.watch("storage"):
                matrix = self.trials.returns_matrix(**where, start_ms=start_ms, end_ms=end_ms)
            with self.watch("statistics"):
                pbo = probability_of_backtest_overfitting(matrix).pbo
            detail = f"CSCV over {same_bars} trials on the same bars"
            checks.append(Threshold("pbo", pbo, "<", g.max_pbo, detail).check())
        else:
            detail = f"{same_bars} trials on these bars; judged from {g.pbo_min_trials}"
            checks.append(pbo_skipped(g.max_pbo, detail))
        return count, checks

    def _read_holdout(self, market: _Market, split: Split, cfg: BacktestConfig) -> HoldoutOutcome:
        """Charge the holdout's budget, then read it: the read is recorded before the backtest,
        keyed by the signals (`holdout.signals_fingerprint`)."""
        lo, hi = split.holdout
        ts, inst = market.candles.ts, market.inst
        span = HoldoutSpan(
            exchange=inst.exchange,
            symbol=inst.symbol,
            timeframe=str(inst.timeframe),
            start_ms=int(ts[lo]),
            end_ms=int(ts[hi - 1]) + inst.timeframe.ms,
        )
        reads = self.trials.holdout_reads
        with self.watch("storage"):
            earlier = reads.overlapping(span)
        budget = budget_check(span, earlier, self.gate.holdout_read_budget)
        if not budget.passed:
            return HoldoutOutcome([budget], None, len(earlier))
        fingerprint = market.fingerprint
        with self.watch("storage"):
            signal_reads = len(reads.of_signals(fingerprint))
            reads.record(span, fingerprint, market.ref.strategy_id, market.run_id)
        result, segment = self._segment(market, "holdout", split.holdout, cfg)
        psr = self._psr(result.returns)
        checks = [budget, *holdout_checks(segment.metrics, psr, signal_reads, self.gate)]
        return HoldoutOutcome(checks, segment, len(earlier) + 1)

    @staticmethod
    def _psr(returns: npt.NDArray[np.float64]) -> float | None:
        try:
            return probabilistic_sharpe_ratio(returns)
        except ValueError:
            return None

    def _report(
        self,
        name: str,
        inst: Instrument,
        checks: list[GateCheck],
        segments: dict[Segment, SegmentResult],
        split: Split | None,
        strategy_id: str | None,
        count: TrialCount | int = 0,
        holdout_reads: int = 0,
        market: _Market | None = None,
    ) -> GateReport:
        failed = [c.name for c in checks if not c.passed and not c.skipped]
        return GateReport(
            strategy=name,
            strategy_id=strategy_id,
            instrument=inst.key,
            passed=not failed,
            decision="paper_candidate" if not failed else "rejected",
            failed=failed,
            checks=checks,
            segments=segments,
            split=split.model_dump(mode="json") if split else None,
            n_trials=count.raw if isinstance(count, TrialCount) else count,
            holdout_reads=holdout_reads,
            trial_count=count if isinstance(count, TrialCount) else None,
            weakened=self.gate.weakened(),
            signals_sha256=market.fingerprint if market else None,
        )
