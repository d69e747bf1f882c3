"""Performance figures of a backtest (or of paper and live trading), as they cross packages.

JSON-able and NaN-free: None where a value is undefined. `rara.backtest.metrics` computes them;
the gate, events, reports and the TUI read them.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, model_validator


class _Finite(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="after")
    def _no_nan(self) -> _Finite:
        for name, value in self:
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{name} is {value}; undefined values must be None")
        return self


class BenchmarkMetrics(_Finite):
    total_return: float
    cagr: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float
    final_equity: float


class Metrics(_Finite):
    bars: int
    start: str
    end: str
    years: float
    bars_per_day: float
    init_cash: float
    final_equity: float
    total_return: float
    cagr: float | None
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    max_drawdown: float
    max_drawdown_bars: int
    max_drawdown_days: float
    trades: int
    win_rate: float | None
    profit_factor: float | None
    avg_trade_return: float | None
    exposure: float
    turnover: float
    fees_paid: float
    open_at_end: bool
    benchmark: BenchmarkMetrics
