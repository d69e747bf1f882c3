"""Performance metrics of a backtest, JSON-able and NaN-free (None where a value is undefined).

Definitions (returns are simple per-bar returns of the equity at bar closes; bar 0 is measured
against the initial cash):

- Sharpe = mean / std (ddof 1) x sqrt(365 x bars_per_day); Sortino = mean / downside deviation
  (root mean square of min(r, 0) over all bars) x the same factor. Crypto trades 24/7, so a year
  has 365 days of bars, not 252 sessions. Risk-free rate 0.
- CAGR over the calendar span of the bars: from the first bar's open to the last bar's close.
- Max drawdown: largest fall of equity from a running peak (the initial cash counts as a peak),
  as a positive fraction; its duration is the longest stretch of bars below a previous peak
  (recovered or not), in bars and in days. Calmar = CAGR / max drawdown.
- Trades, win rate (pnl > 0), profit factor (gross profit / gross loss), mean trade return.
- Exposure: share of bars that close with a position held (the final bar counts when the
  position is sold at its close). Turnover: notional traded on both legs / mean equity.
- Buy and hold on the same bars with the same costs: all the initial cash buys at the first
  open x (1 + slippage) with the fee, and sells at the last close x (1 - slippage) with the fee.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from rara.backtest import preload
from rara.backtest.engine import END, BacktestConfig, BacktestResult
from rara.domain.market import Candles, ms_to_iso
from rara.domain.performance import BenchmarkMetrics as BenchmarkMetrics  # re-exported
from rara.domain.performance import Metrics as Metrics  # re-exported
from rara.errors import BadInput

F64 = npt.NDArray[np.float64]
MS_PER_DAY = 86_400_000
DAYS_PER_YEAR = 365.0
_TINY = 1e-15  # a std below this is a constant curve: ratios undefined


def compute_metrics(
    result: BacktestResult,
    candles: Candles,
    bars_per_day: float | None = None,
    benchmark: BenchmarkMetrics | None = None,
) -> Metrics:
    """Metrics of `result` on the `candles` it ran on. `bars_per_day` defaults to the config's,
    else to what the timestamps say. Pass `benchmark` (see `buy_and_hold`) to reuse it across
    many results on the same candles."""
    n = len(candles)
    if n == 0 or result.equity.shape[0] != n:
        raise BadInput(
            "backtest_metrics",
            f"{n} candles for an equity curve of {result.equity.shape[0]} bars",
            "pass the candles the backtest ran on",
        )
    cfg = result.config
    bpd = bars_per_day or cfg.bars_per_day or infer_bars_per_day(candles.ts)
    years = span_years(candles.ts, bpd)
    equity = result.equity
    stats = _curve_stats(equity, cfg.init_cash, years, bpd)
    t = result.trades
    pnl = t["pnl"]
    wins = pnl[pnl > 0].sum()
    losses = -pnl[pnl < 0].sum()
    held = int((t["exit_idx"] - t["entry_idx"]).sum() + (t["exit_reason"] == END).sum())
    traded = float((t["size"] * (t["entry_price"] + t["exit_price"])).sum())
    mean_equity = float(equity.mean())
    cagr, max_dd = stats["cagr"], stats["max_drawdown"]
    return Metrics(
        bars=n,
        start=ms_to_iso(int(candles.ts[0])),
        end=ms_to_iso(int(candles.ts[-1]) + round(MS_PER_DAY / bpd)),
        years=years,
        bars_per_day=bpd,
        init_cash=cfg.init_cash,
        calmar=cagr / max_dd if cagr is not None and max_dd > 0 else None,
        max_drawdown_days=stats["max_drawdown_bars"] / bpd,
        trades=int(t.shape[0]),
        win_rate=float((pnl > 0).mean()) if t.shape[0] else None,
        profit_factor=float(wins / losses) if losses > 0 else None,
        avg_trade_return=float(t["ret"].mean()) if t.shape[0] else None,
        exposure=held / n,
        turnover=traded / mean_equity if mean_equity > 0 else 0.0,
        fees_paid=float((t["entry_fee"] + t["exit_fee"]).sum()),
        open_at_end=bool(t.shape[0] and t["exit_reason"][-1] == END),
        benchmark=benchmark or buy_and_hold(candles, cfg, bpd),
        **stats,
    )


def buy_and_hold(
    candles: Candles, config: BacktestConfig | None = None, bars_per_day: float | None = None
) -> BenchmarkMetrics:
    """Buy with all the cash at the first open, sell at the last close, same costs."""
    if len(candles) == 0:
        raise BadInput("backtest_metrics", "no candles", "pass the candles the backtest ran on")
    cfg = config or BacktestConfig()
    bpd = bars_per_day or cfg.bars_per_day or infer_bars_per_day(candles.ts)
    fill = candles.open[0] * (1.0 + cfg.slippage)
    size = cfg.init_cash / (fill * (1.0 + cfg.fee))
    equity = size * candles.close
    equity[-1] *= (1.0 - cfg.slippage) * (1.0 - cfg.fee)
    stats = _curve_stats(equity, cfg.init_cash, span_years(candles.ts, bpd), bpd)
    return BenchmarkMetrics(
        total_return=stats["total_return"],
        cagr=stats["cagr"],
        sharpe=stats["sharpe"],
        sortino=stats["sortino"],
        max_drawdown=stats["max_drawdown"],
        final_equity=float(equity[-1]),
    )


def infer_bars_per_day(ts: npt.NDArray[np.int64]) -> float:
    """Bars per day from the smallest spacing of the timestamps (gaps do not change it)."""
    if ts.shape[0] < 2:
        raise BadInput(
            "backtest_metrics",
            "cannot infer the bar length from fewer than 2 bars",
            "pass bars_per_day (Timeframe.bars_per_day)",
        )
    step = float(np.diff(ts).min())
    if step <= 0:
        raise BadInput(
            "backtest_metrics", "timestamps are not increasing", "sort the candles by time"
        )
    return MS_PER_DAY / step


def span_years(ts: npt.NDArray[np.int64], bars_per_day: float) -> float:
    """Calendar span from the first bar's open to the last bar's close, in 365-day years."""
    span_ms = float(ts[-1] - ts[0]) + MS_PER_DAY / bars_per_day
    return span_ms / MS_PER_DAY / DAYS_PER_YEAR


def annualization(bars_per_day: float) -> float:
    """The Sharpe/Sortino factor for markets open every day: sqrt(365 x bars per day)."""
    return math.sqrt(DAYS_PER_YEAR * bars_per_day)


def _curve_stats(
    equity: F64, init_cash: float, years: float, bars_per_day: float
) -> dict[str, Any]:
    preload.wait()  # numba: never imported beside the background warm-up
    from rara.backtest.kernels import curve_stats  # one pass instead of ~10 numpy ones

    mean, std, downside, max_dd, dd_bars = curve_stats(equity, init_cash)
    final = float(equity[-1])
    total = final / init_cash - 1.0
    factor = annualization(bars_per_day)
    n = equity.shape[0]
    return {
        "final_equity": final,
        "total_return": total,
        "cagr": cagr(total, years),
        "sharpe": _finite(mean / std * factor) if n > 1 and std > _TINY else None,
        "sortino": _finite(mean / downside * factor) if n > 1 and downside > _TINY else None,
        "max_drawdown": float(max_dd),
        "max_drawdown_bars": int(dd_bars),
    }


def _finite(x: float) -> float | None:
    """None for a value that is not a number (an equity of 0 somewhere makes returns infinite)."""
    return float(x) if math.isfinite(x) else None


def cagr(total_return: float, years: float) -> float | None:
    if years <= 0:
        return None
    if total_return <= -1.0:
        return -1.0
    try:
        value = math.exp(math.log1p(total_return) / years) - 1.0
    except OverflowError:  # a huge return over a short span: undefined for practical purposes
        return None
    return value if math.isfinite(value) else None
