"""A trading run's results, from the ledger's equity marks (``trading_equity_marked``, one per
bar close), never from per-trade averages: what gate 2 and feedback judge.

Functions over arrays (equity in bar order), annualised for markets open every day like the
backtest's metrics (`rara.backtest.metrics`: 365 days a year):

- per-bar returns: ``equity[t] / equity[t-1] - 1``;
- Sharpe: mean / std (ddof 1) of the per-bar returns x sqrt(bars per year);
- annualised return: the compounded growth over the marked bars, per year;
- max drawdown: the largest fall from a running peak, a fraction in [0, 1];
- market days: marked bars x the bar length (market time, not wall time).

Too few marks give None, never NaN or infinity (the figures go into JSON event payloads).
Trades are round trips (an entry and its exit, however many fills each leg took), counted by
`rara.trading.parity.paper_trades`; a position still open is no trade yet.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from rara.domain.market import Timeframe

F64 = npt.NDArray[np.float64]
MS_PER_DAY = 86_400_000
DAYS_PER_YEAR = 365.0
# exp() of more than this overflows a float: such an annualised return means nothing anyway
_MAX_LOG_GROWTH = 700.0


class RunResults(BaseModel):
    """One trading run's results so far, as gate 2 and feedback read them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str
    strategy_id: str
    mode: str = Field(description="paper, testnet or live")
    exchange: str
    symbol: str
    timeframe: str
    first_bar_ms: int | None
    last_bar_ms: int | None
    bars: int = Field(ge=0, description="bars marked (each bar once)")
    days: float = Field(ge=0, description="market days covered: bars x the bar length")
    trades: int = Field(ge=0, description="completed round trips")
    ended: bool = Field(description="the run's feed ended (its last position was sold)")
    initial_equity: float | None
    final_equity: float | None
    annual_return: float | None
    sharpe: float | None
    max_drawdown: float | None


def bars_per_year(timeframe: Timeframe | str) -> float:
    """Bars in a 365-day year of a market open every day."""
    tf = timeframe if isinstance(timeframe, Timeframe) else Timeframe.parse(timeframe)
    return DAYS_PER_YEAR * MS_PER_DAY / tf.ms


def curve(marks: Iterable[tuple[int, Decimal]]) -> tuple[npt.NDArray[np.int64], F64]:
    """(bar ms, equity) arrays in bar order from marks in journal order; a bar marked twice
    (the last bar is marked again when a run ends) keeps its later mark."""
    last: dict[int, Decimal] = {}
    for ms, eq in marks:
        last[int(ms)] = eq
    ms_sorted = sorted(last)
    return (
        np.asarray(ms_sorted, dtype=np.int64),
        np.asarray([float(last[m]) for m in ms_sorted], dtype=np.float64),
    )


def bar_returns(equity: F64) -> F64:
    """Per-bar returns of an equity curve (one fewer than marks)."""
    eq = np.asarray(equity, dtype=np.float64)
    if len(eq) < 2:
        return np.zeros(0, dtype=np.float64)
    prev = eq[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(prev != 0, eq[1:] / np.where(prev != 0, prev, 1.0) - 1.0, 0.0)
    return np.asarray(out, dtype=np.float64)


def sharpe(returns: F64, per_year: float) -> float | None:
    """Annualised Sharpe of per-bar returns; None with fewer than 2 returns or no variation."""
    r = np.asarray(returns, dtype=np.float64)
    if len(r) < 2:
        return None
    sd = float(np.std(r, ddof=1))
    if not math.isfinite(sd) or sd <= 1e-15:
        return None
    return float(np.mean(r)) / sd * math.sqrt(per_year)


def annual_return(equity: F64, per_year: float) -> float | None:
    """Compounded growth per year over the curve's returns; None with fewer than 2 marks, a
    non-positive start or end, or growth too steep to be a number."""
    eq = np.asarray(equity, dtype=np.float64)
    if len(eq) < 2 or eq[0] <= 0 or eq[-1] <= 0:
        return None
    log_growth = math.log(float(eq[-1]) / float(eq[0])) * per_year / (len(eq) - 1)
    if log_growth > _MAX_LOG_GROWTH:
        return None
    return math.expm1(log_growth)


def max_drawdown(equity: F64) -> float | None:
    """The largest fall from a running peak as a fraction of the peak, in [0, 1]; None without
    marks."""
    eq = np.asarray(equity, dtype=np.float64)
    if len(eq) == 0:
        return None
    peak = np.maximum.accumulate(eq)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0, 1.0 - eq / np.where(peak > 0, peak, 1.0), 0.0)
    return float(np.clip(dd, 0.0, 1.0).max())


def market_days(bars: int, timeframe: Timeframe | str) -> float:
    """Market time covered by `bars` bars, in days."""
    tf = timeframe if isinstance(timeframe, Timeframe) else Timeframe.parse(timeframe)
    return bars * tf.ms / MS_PER_DAY


def tracking_error(a: F64, b: F64, per_year: float) -> float | None:
    """Annualised std (ddof 1) of the per-bar return differences of two equity curves over the
    same bars; None with fewer than 2 returns."""
    ra, rb = bar_returns(a), bar_returns(b)
    if len(ra) != len(rb):
        raise ValueError(f"curves of {len(a)} and {len(b)} marks are not over the same bars")
    if len(ra) < 2:
        return None
    return float(np.std(ra - rb, ddof=1)) * math.sqrt(per_year)
