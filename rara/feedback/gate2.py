"""Gate 2: a paper run becomes a live candidate when its results and its agreement with the
backtest over the same bars are within `PaperGateSettings`. Every check carries its value and
threshold, like gate 1's report:

- ``paper_days``: market days marked >= ``min_days``;
- ``paper_trades``: completed round trips >= ``min_trades``;
- ``paper_sharpe``: annualised Sharpe of the ledger's per-bar equity returns >= ``min_sharpe``;
- ``paper_drawdown``: max drawdown of that equity <= ``max_drawdown``;
- ``tracking_error``: annualised std of the per-bar return differences between the paper
  equity and the backtest's over the same bars <= ``max_tracking_error``;
- ``parity``: the differences `rara.trading.parity.compare` finds between the paper trades and
  the backtest's (equity aside: tracking error judges that) <= ``max_parity_mismatches``.

Without the candles of the run's bars there is no backtest to agree with: both agreement checks
fail, saying so (a paper run is never promoted on its own word).
"""

from __future__ import annotations

import numpy as np

from rara.config import Settings
from rara.daemon_settings import PaperGateSettings
from rara.domain.lifecycle import Gate2Check, Gate2Report
from rara.events import EventStore
from rara.feedback import metrics
from rara.feedback.runs import RunRecord, SameBarsBacktest, backtest_over_run, read_run
from rara.home import Home
from rara.trading.parity import compare


def judge_paper(
    store: EventStore,
    run_id: str,
    settings: PaperGateSettings,
    *,
    home: Home,
    app_settings: Settings,
    strategy_id: str | None = None,
) -> Gate2Report:
    """Gate 2's report on paper run `run_id` as its events stand (a run still trading is judged
    on the bars marked so far). `app_settings` gives the sandbox and the costs of the backtest
    over the same bars."""
    run = read_run(store, run_id)
    if run is None:
        return _report(strategy_id or "?", run_id, "", None, [], settings, None)
    backtest = backtest_over_run(home, app_settings, run) if len(run.bar_ms) >= 2 else None
    return judge_run(run, backtest, settings)


def judge_run(
    run: RunRecord, backtest: SameBarsBacktest | None, settings: PaperGateSettings
) -> Gate2Report:
    """Gate 2 over a run's record and its backtest over the same bars (None: none could be
    made)."""
    s = run.started
    inst = f"{s.exchange}:{s.symbol}:{s.timeframe}"
    return _report(s.strategy_id, run.run_id, inst, run, _checks(run, settings), settings, backtest)


def _checks(run: RunRecord, st: PaperGateSettings) -> list[Gate2Check]:
    r = run.results()
    return [
        _at_least("paper_days", r.days, st.min_days, f"{r.bars} bars of {r.timeframe}"),
        _at_least("paper_trades", float(r.trades), float(st.min_trades), "completed round trips"),
        _at_least("paper_sharpe", r.sharpe, st.min_sharpe, "annualised, ledger equity"),
        _at_most("paper_drawdown", r.max_drawdown, st.max_drawdown, "of ledger equity"),
    ]


def _agreement(
    run: RunRecord, backtest: SameBarsBacktest | None, st: PaperGateSettings
) -> list[Gate2Check]:
    if backtest is None:
        why = "no backtest over the same bars (too few marks, or the candles are not stored)"
        return [
            Gate2Check(
                name="tracking_error",
                passed=False,
                value=None,
                threshold=st.max_tracking_error,
                detail=why,
            ),
            Gate2Check(
                name="parity",
                passed=False,
                value=None,
                threshold=float(st.max_parity_mismatches),
                detail=why,
            ),
        ]
    # a run still trading: its last bar's backtest equity is after the backtest's closing sale
    n = len(run.bar_ms) if run.ended else len(run.bar_ms) - 1
    te = metrics.tracking_error(
        run.equity[:n], backtest.equity[:n], metrics.bars_per_year(run.started.timeframe)
    )
    te_check = _at_most("tracking_error", te, st.max_tracking_error, f"over {n} bars")
    # the trades only: the equity curve is tracking error's to judge, with its own threshold
    parity = compare(run.trades, backtest.trades, [], backtest.equity, backtest.bar_ms)
    trade_mismatches = [m for m in parity.mismatches if not m.startswith("equity differs")]
    count = float(len(trade_mismatches))
    parity_check = Gate2Check(
        name="parity",
        passed=count <= st.max_parity_mismatches,
        value=count,
        threshold=float(st.max_parity_mismatches),
        detail="; ".join(trade_mismatches[:3]) or f"{parity.paper_trades} trades as backtested",
    )
    return [te_check, parity_check]


def _report(
    strategy_id: str,
    run_id: str,
    instrument: str,
    run: RunRecord | None,
    checks: list[Gate2Check],
    st: PaperGateSettings,
    backtest: SameBarsBacktest | None,
) -> Gate2Report:
    if run is None:
        checks = [
            Gate2Check(
                name="paper_days", passed=False, value=None, threshold=st.min_days, detail="no run"
            )
        ]
    else:
        checks = [*checks, *_agreement(run, backtest, st)]
    bars = np.asarray([] if run is None else run.bar_ms)
    failed = [c.name for c in checks if not c.passed]
    return Gate2Report(
        strategy_id=strategy_id,
        run_id=run_id,
        instrument=instrument,
        first_bar_ms=int(bars[0]) if len(bars) else None,
        last_bar_ms=int(bars[-1]) if len(bars) else None,
        bars=len(bars),
        passed=not failed,
        failed=failed,
        checks=checks,
    )


def _at_least(name: str, value: float | None, threshold: float, detail: str) -> Gate2Check:
    return _check(name, value is not None and value >= threshold, value, threshold, detail)


def _at_most(name: str, value: float | None, threshold: float, detail: str) -> Gate2Check:
    return _check(name, value is not None and value <= threshold, value, threshold, detail)


def _check(
    name: str, passed: bool, value: float | None, threshold: float, detail: str
) -> Gate2Check:
    return Gate2Check.model_validate(
        {
            "name": name,
            "passed": passed,
            "value": _rounded(value),
            "threshold": threshold,
            "detail": detail,
        }
    )


def _rounded(value: float | None) -> float | None:
    # a report is compared with the last one held: noise in the 12th digit is no change
    return None if value is None else round(value, 10)
