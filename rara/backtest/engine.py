"""The backtest engine: signal arrays in, trades and an equity curve out, on vectorbt's simulator.

Execution convention (the one rara uses for backtest, paper and live; the tests hold a plain-Python
loop that implements these rules independently and must agree trade for trade):

1. A bar is known when it closes. A signal on bar ``t`` is acted on at the OPEN of bar ``t+1``;
   signals on the last bar are dropped (there is no next open).
2. If entry and exit are both true on a bar, that bar carries no signal (both are ignored).
3. Long-only spot, no leverage, one position at a time. An entry acts only when flat: it commits
   ``size_fraction`` of the cash (all of the equity when ``size_fraction`` is 1) and buys at
   ``open * (1 + slippage)``; the fee is ``fee * notional`` where notional = size * fill price,
   so notional + fee = committed cash. An exit acts only when long: it sells the whole position
   at ``open * (1 - slippage)`` and pays ``fee * notional``. Other signals are ignored.
4. Stop-loss / take-profit are fractions of the entry FILL price: levels ``fill * (1 - sl)`` and
   ``fill * (1 + tp)``. Scalars, or per-bar arrays read on the entry signal bar (NaN = none). They
   are placed when the entry bar closes, so they are first checked on the bar after the entry bar
   (the engine acts only at bar boundaries, like paper and live). On a checked bar, with the open
   first: stop-loss if ``open <= SL`` (fill at the open) or ``low <= SL`` (fill at SL); otherwise
   take-profit if ``open >= TP`` (fill at the open) or ``high >= TP`` (fill at TP). Stop-loss wins
   when both are inside one bar (we cannot know the order, so assume the worse). A stop fill is a
   market order: slippage applies, ``price * (1 - slippage)``, and the fee. On a bar where an exit
   signal acts, the exit at the open comes first: a stop on that bar can only be the open gap
   case, which fills at the same price and is reported as ``signal``. A bar whose open sees the
   position still held ignores its entry signal, so a stop exit never re-enters on the same bar.
5. A position still open after the last bar is closed at the last close ``* (1 - slippage)`` with
   the fee, exit reason ``end``; it counts as a trade. The equity curve is cash + position x close
   at every bar close (mark to market, no exit cost) except the last bar, which is after that sale.
6. Refused (BadInput): signals that are not one boolean (or 0/1) per bar; stops outside [0, 1)
   (take-profit [0, inf)); a NaN or non-positive open on a bar that fills, or close on any bar;
   with stops, any bar not satisfying 0 < low <= open <= high.

How it runs: `rara.backtest.vbt` feeds vectorbt's static signal simulator (Rust kernel from
``vectorbt-rust`` when installed, else Numba) only the rows where something can happen; the
trades come from its order records, the equity curve from one pass over all bars
(`rara.backtest.kernels`). `import rara.backtest` stays light: vectorbt and numba are imported on
the first backtest or by `warm_up()` (`rara.backtest.warm`), which a worker parent calls once
before forking, so no candidate pays import or JIT.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from rara.backtest import preload
from rara.backtest.vbt import SIDE_BUY, simulate_signals
from rara.domain.market import Candles
from rara.errors import BadInput

if TYPE_CHECKING:
    from rara.config import BacktestSettings

F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
Stop = float | npt.NDArray[np.float64] | None
Rows = npt.NDArray[np.intp]
Engine = Literal["auto", "rust", "numba"]

EXIT_REASONS = ("signal", "stop_loss", "take_profit", "end")
SIGNAL, STOP_LOSS, TAKE_PROFIT, END = range(4)
TRADE_DTYPE = np.dtype(
    [
        ("entry_idx", np.int64),  # bar whose open filled the entry (signal bar + 1)
        ("exit_idx", np.int64),  # bar that filled the exit (the last bar for "end")
        ("entry_price", np.float64),  # fill prices, slippage included
        ("exit_price", np.float64),
        ("size", np.float64),  # units of the base asset
        ("entry_fee", np.float64),
        ("exit_fee", np.float64),
        ("pnl", np.float64),  # net of both fees, in quote currency
        ("ret", np.float64),  # pnl / cash committed at entry (notional + entry fee)
        ("exit_reason", np.int8),  # index into EXIT_REASONS
    ]
)

# Published base-tier spot taker fees (2024); volume tiers and tokens lower them. Venues not listed
# get BacktestConfig.fee.
TAKER_FEES = {"binance": 0.001, "bybit": 0.001, "okx": 0.001, "kraken": 0.004, "coinbase": 0.006}


class BacktestConfig(BaseModel):
    """Costs and sizing of one backtest. Fractions, not percent: 0.001 is 0.1%."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    init_cash: float = Field(10_000.0, gt=0, allow_inf_nan=False)
    fee: float = Field(0.001, ge=0, lt=0.5, description="taker fee per side, of notional")
    slippage: float = Field(0.0005, ge=0, lt=0.5, description="adverse price move per fill")
    size_fraction: float = Field(1.0, gt=0, le=1, description="share of cash each entry commits")
    bars_per_day: float | None = Field(None, gt=0, description="None: inferred from timestamps")
    engine: Engine = Field("auto", description="vectorbt kernel; auto: Rust when installed")

    @classmethod
    def for_exchange(cls, exchange: str, **overrides: Any) -> BacktestConfig:
        """A config with the venue's standard taker fee (see `TAKER_FEES`); overrides win."""
        fee = TAKER_FEES.get(exchange.lower())
        return cls(**{**({"fee": fee} if fee is not None else {}), **overrides})

    @classmethod
    def from_settings(
        cls, exchange: str, settings: BacktestSettings, cost_multiplier: float = 1.0
    ) -> BacktestConfig:
        """The venue's costs from settings (explicit fee, else the per-exchange fee, else the
        venue's own), fee and slippage scaled by `cost_multiplier` (the gate's stress test)."""
        base = cls.for_exchange(exchange)
        fee = settings.fee if settings.fee is not None else settings.fees.get(exchange, base.fee)
        return cls(
            init_cash=settings.init_cash,
            fee=fee * cost_multiplier,
            slippage=settings.slippage * cost_multiplier,
            size_fraction=settings.size_fraction,
        )


@dataclass(frozen=True)
class BacktestResult:
    """Equity at every bar close, the trades (`TRADE_DTYPE`), and what produced them."""

    equity: F64
    trades: npt.NDArray[np.void]
    config: BacktestConfig
    engine: str

    @property
    def returns(self) -> F64:
        """Simple return per bar; bar 0 is measured against the initial cash."""
        if self.equity.shape[0] == 0:
            return self.equity.copy()
        prev = np.empty_like(self.equity)
        prev[0] = self.config.init_cash
        prev[1:] = self.equity[:-1]
        return np.divide(self.equity, prev) - 1.0

    @property
    def final_equity(self) -> float:
        return float(self.equity[-1]) if len(self.equity) else self.config.init_cash

    def trade_dicts(self) -> list[dict[str, Any]]:
        """Trades as JSON-able dicts (exit reason by name)."""
        out = []
        for row in self.trades:
            d = {name: row[name].item() for name in TRADE_DTYPE.names or ()}
            d["exit_reason"] = EXIT_REASONS[d["exit_reason"]]
            out.append(d)
        return out


def run_backtest(
    candles: Candles,
    entries: npt.ArrayLike,
    exits: npt.ArrayLike,
    config: BacktestConfig | None = None,
    stop_loss: Stop = None,
    take_profit: Stop = None,
) -> BacktestResult:
    """Simulate long-only signals on `candles` under the module's execution convention.

    `stop_loss` / `take_profit`: a fraction of the entry fill price (0.02 = 2%), or one per bar
    (read on the entry signal bar; NaN = none), or None."""
    cfg = config or BacktestConfig()
    n = len(candles)
    ent = _signal(entries, n, "entries")
    ext = _signal(exits, n, "exits")
    sl = _stop(stop_loss, n, "stop_loss", upper=1.0)
    tp = _stop(take_profit, n, "take_profit", upper=np.inf)
    if sl is None and tp is None:
        # Fill rows: a signal on t acts on t+1, and a bar with both signals carries none.
        rows = np.flatnonzero(ent[:-1] ^ ext[:-1]) + 1
    else:
        preload.wait()  # numba: never imported beside the background warm-up (see `preload`)
        from rara.backtest.kernels import stop_rows

        nan = np.full(1, np.nan)
        keep, bad = stop_rows(
            candles.open,
            candles.high,
            candles.low,
            ent,
            ext,
            nan if sl is None else sl,
            nan if tp is None else tp,
            cfg.slippage,
        )
        if bad >= 0:
            raise BadInput(
                "backtest_input",
                f"bar {bad} has a NaN or non-positive price, or low/high not bounding its open",
                "stops read the bar's range: clean the candles",
            )
        rows = np.flatnonzero(keep)
    fill_open = candles.open[rows]
    if rows.shape[0] and not (fill_open.min() > 0 and fill_open.max() < np.inf):  # NaN fails
        raise BadInput(
            "backtest_input",
            "candles.open has a NaN or non-positive price on a bar that fills an order",
            "clean or cut the candles before backtesting",
        )
    # The effective signal acting on each row (rows are >= 1: nothing fills on bar 0).
    prev = rows - 1
    e_rows = ent[prev] & ~ext[prev]
    x_rows = ext[prev] & ~ent[prev]
    if sl is None and tp is None:
        hi = lo = fill_open  # unused without stops
    else:
        # Exit-signal rows: the stop logic sees only the open (see rara.backtest.vbt, (a)).
        hi = np.where(x_rows, fill_open, candles.high[rows])
        lo = np.where(x_rows, fill_open, candles.low[rows])
    engine, orders = simulate_signals(
        cfg.engine,
        fill_open,
        hi,
        lo,
        candles.close[rows],
        e_rows,
        x_rows,
        _at_fill_rows(sl, rows),
        _at_fill_rows(tp, rows),
        init_cash=cfg.init_cash,
        size_fraction=cfg.size_fraction,
        fee=cfg.fee,
        slippage=cfg.slippage,
    )
    trades = _trades(candles, rows[orders["idx"]], orders, sl, ent, ext, cfg)
    equity = _equity(candles.close, trades, cfg.init_cash)
    return BacktestResult(equity=equity, trades=trades, config=cfg, engine=engine)


# ---------------------------------------------------------------- input checks


def _signal(a: npt.ArrayLike, n: int, name: str) -> Bools:
    arr = np.asarray(a)
    if arr.shape != (n,):
        raise BadInput(
            "backtest_input",
            f"{name} has shape {arr.shape}, candles have {n} bars",
            "pass one boolean per bar, aligned with the candles",
        )
    if arr.dtype == np.bool_:
        # Numba compiles read-only and strided arrays separately: hand it one kind (~20 us).
        return arr if arr.flags.writeable and arr.flags.c_contiguous else arr.copy()
    if arr.dtype.kind in "iuf" and np.isin(arr, (0, 1)).all():
        return arr.astype(np.bool_)
    raise BadInput(
        "backtest_input",
        f"{name} must be boolean (got {arr.dtype})",
        "use True/False (or 0/1) per bar; no NaN",
    )


def _stop(v: Stop, n: int, name: str, upper: float) -> F64 | None:
    """A stop as a length-1 array (one value for all bars) or one per bar; None when unset."""
    if v is None:
        return None
    arr = np.asarray(v, dtype=np.float64).reshape(-1) if np.ndim(v) else np.full(1, float(v))
    if arr.shape[0] not in (1, n) or np.ndim(v) > 1 or (np.ndim(v) and arr.shape[0] != n):
        raise BadInput(
            "backtest_input",
            f"{name} has shape {np.shape(v)}, candles have {n} bars",
            "pass a fraction such as 0.02, or one per bar",
        )
    live = arr[~np.isnan(arr)]
    if live.size == 0:
        return None
    if not ((live >= 0) & (live < upper)).all():
        raise BadInput(
            "backtest_input",
            f"{name} must be a fraction in [0, {upper})",
            "0.02 means 2% from the entry fill price",
        )
    return arr


def _at_fill_rows(stop: F64 | None, rows: Rows) -> F64:
    """The stop of the signal bar before each row (the kernel reads it on the fill row); always
    a 1-D float array, so the Numba engine compiles a single signature."""
    if stop is None:
        return np.full(rows.shape[0], np.nan)
    if stop.shape[0] == 1:
        return np.full(rows.shape[0], stop[0])
    return stop[rows - 1]


# ---------------------------------------------------------------- records -> trades, equity


def _trades(
    c: Candles,
    idx: npt.NDArray[np.int64],
    orders: Any,
    sl: F64 | None,
    ent: Bools,
    ext: Bools,
    cfg: BacktestConfig,
) -> npt.NDArray[np.void]:
    """Pair buy/sell orders (long-only, no pyramiding: they alternate) into trades."""
    side = orders["side"]
    buys = np.flatnonzero(side == SIDE_BUY)
    sells = np.flatnonzero(side != SIDE_BUY)
    nt, ns = buys.shape[0], sells.shape[0]
    if ns not in (nt, nt - 1) or (ns and (sells < buys[:ns]).any()):
        raise RuntimeError("vectorbt returned orders that are not buy/sell pairs")
    t = np.zeros(nt, dtype=TRADE_DTYPE)
    if nt == 0:
        return t
    t["entry_idx"] = idx[buys]
    t["entry_price"] = orders["price"][buys]
    t["size"] = orders["size"][buys]
    t["entry_fee"] = orders["fees"][buys]
    t["exit_idx"][:ns] = idx[sells]
    t["exit_price"][:ns] = orders["price"][sells]
    t["exit_fee"][:ns] = orders["fees"][sells]
    t["exit_reason"][:ns] = _exit_reasons(c, t[:ns], sl, ent, ext)
    if ns < nt:  # still long after the last bar: sell at the last close (rule 5)
        px = c.close[-1] * (1.0 - cfg.slippage)
        t["exit_idx"][-1] = len(c) - 1
        t["exit_price"][-1] = px
        t["exit_fee"][-1] = t["size"][-1] * px * cfg.fee
        t["exit_reason"][-1] = END
    cost = t["size"] * t["entry_price"]
    t["pnl"] = t["size"] * t["exit_price"] - cost - t["entry_fee"] - t["exit_fee"]
    t["ret"] = t["pnl"] / (cost + t["entry_fee"])
    return t


def _exit_reasons(
    c: Candles, t: npt.NDArray[np.void], sl: F64 | None, ent: Bools, ext: Bools
) -> npt.NDArray[np.int8]:
    """Signal on exit-signal rows; else stop-loss if the low reached its level, else profit."""
    x = t["exit_idx"]
    by_signal = ext[x - 1] & ~ent[x - 1]
    reason = np.where(by_signal, SIGNAL, TAKE_PROFIT).astype(np.int8)
    if sl is not None:
        # The kernel's arithmetic: level = fill * (1 - stop), stop read on the signal bar.
        stop = sl[0] if sl.shape[0] == 1 else sl[t["entry_idx"] - 1]
        level = t["entry_price"] * (1.0 - stop)
        reason[(reason == TAKE_PROFIT) & (c.low[x] <= level)] = STOP_LOSS  # NaN level: False
    return reason


def _equity(close: F64, t: npt.NDArray[np.void], init_cash: float) -> F64:
    """Cash + position x close at each bar close. A bar closes flat on its exit bar (the sale
    happened at its open or inside it) and long on its entry bar."""
    preload.wait()
    from rara.backtest.kernels import equity_curve

    flows = np.empty(2 * t.shape[0] + 1)
    flows[0] = init_cash
    flows[1::2] = -(t["size"] * t["entry_price"] + t["entry_fee"])
    flows[2::2] = t["size"] * t["exit_price"] - t["exit_fee"]
    cash = np.cumsum(flows)
    a = np.ascontiguousarray
    equity, bad = equity_curve(
        close, a(t["entry_idx"]), a(t["exit_idx"]), a(t["size"]), cash[1::2], cash[2::2], init_cash
    )
    if bad >= 0:
        raise BadInput(
            "backtest_input",
            f"candles.close[{bad}] is not a positive price",
            "clean or cut the candles before backtesting",
        )
    return equity
