"""An independent, plain-Python backtest loop: the execution convention written as directly as
possible, bar by bar, to check the vectorbt-based engine against (acceptance 1).

It shares no code with `rara.backtest` except the config values it reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rara.backtest import BacktestConfig
from rara.domain.market import Candles


@dataclass
class RefTrade:
    entry_idx: int
    entry_price: float
    size: float
    entry_fee: float
    sl_level: float | None
    tp_level: float | None
    exit_idx: int = -1
    exit_price: float = math.nan
    exit_fee: float = math.nan
    exit_reason: str = ""

    @property
    def pnl(self) -> float:
        return (
            self.size * self.exit_price
            - self.size * self.entry_price
            - self.entry_fee
            - self.exit_fee
        )


def _stop_at(stop: float | np.ndarray | None, bar: int) -> float | None:
    if stop is None:
        return None
    value = float(stop) if np.ndim(stop) == 0 else float(stop[bar])  # type: ignore[index]
    return None if math.isnan(value) else value


def reference_backtest(
    c: Candles,
    entries: np.ndarray,
    exits: np.ndarray,
    cfg: BacktestConfig,
    stop_loss: float | np.ndarray | None = None,
    take_profit: float | np.ndarray | None = None,
) -> tuple[list[RefTrade], list[float]]:
    fee, slip = cfg.fee, cfg.slippage
    cash = cfg.init_cash
    pos: RefTrade | None = None
    trades: list[RefTrade] = []
    equity: list[float] = []

    def close_trade(i: int, raw_price: float, reason: str) -> None:
        nonlocal cash, pos
        assert pos is not None
        pos.exit_idx = i
        pos.exit_price = raw_price * (1 - slip)
        pos.exit_fee = pos.size * pos.exit_price * fee
        pos.exit_reason = reason
        cash += pos.size * pos.exit_price - pos.exit_fee
        trades.append(pos)
        pos = None

    n = len(c)
    for i in range(n):
        o, h, lo, cl = float(c.open[i]), float(c.high[i]), float(c.low[i]), float(c.close[i])
        # 1. At the open: act on the signal of bar i-1 (both set means neither).
        go_long = i > 0 and bool(entries[i - 1]) and not bool(exits[i - 1])
        go_flat = i > 0 and bool(exits[i - 1]) and not bool(entries[i - 1])
        if pos is not None and go_flat:
            close_trade(i, o, "signal")
        elif pos is None and go_long:
            fill = o * (1 + slip)
            committed = cash * cfg.size_fraction
            size = committed / (fill * (1 + fee))
            entry_fee = size * fill * fee
            cash -= size * fill + entry_fee
            sl = _stop_at(stop_loss, i - 1)
            tp = _stop_at(take_profit, i - 1)
            pos = RefTrade(
                i,
                fill,
                size,
                entry_fee,
                None if sl is None else fill * (1 - sl),
                None if tp is None else fill * (1 + tp),
            )
        # 2. Inside the bar: stops placed when the entry bar closed; stop-loss first.
        if pos is not None and i > pos.entry_idx:
            if pos.sl_level is not None and o <= pos.sl_level:
                close_trade(i, o, "stop_loss")
            elif pos.sl_level is not None and lo <= pos.sl_level:
                close_trade(i, pos.sl_level, "stop_loss")
            elif pos.tp_level is not None and o >= pos.tp_level:
                close_trade(i, o, "take_profit")
            elif pos.tp_level is not None and h >= pos.tp_level:
                close_trade(i, pos.tp_level, "take_profit")
        # 3. At the close: mark to market.
        equity.append(cash + (pos.size * cl if pos is not None else 0.0))
    if pos is not None:  # still long after the last bar: sell at its close
        close_trade(n - 1, float(c.close[-1]), "end")
        equity[-1] = cash
    return trades, equity
