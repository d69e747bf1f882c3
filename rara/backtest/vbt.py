"""The vectorbt adapter: vectorbt's static signal simulator, run on the rows that matter.

vectorbt 1.2 has a callback-free signal simulator (``simulate_from_signals``) with a Numba kernel
and a Rust kernel (package ``vectorbt-rust``, picked by ``engine="auto"`` when installed). Fed
signals already shifted one bar, ``price=open``, Percent sizing, stops anchored on the fill price
(StopEntryPrice.FillPrice) and filled as market orders (StopExitPrice.StopMarket, so slippage
applies), it is the execution convention of `rara.backtest.engine`, with two adaptations made by
the engine:

(a) On exit-signal rows the high/low handed to the stop logic are the open. vectorbt checks stops
    before signals; without this a stop inside such a bar would pre-empt the exit at its open.
    With it, a stop there can only be the open-gap case, which fills at the same price.
(b) The kernel costs ~50-80 ns per row whatever happens on it (it reads ~40 per-row parameters):
    25-40 ms for a year of 1m bars, against ~1 ms for a dedicated loop. So it gets only the rows
    where its state can change: signal rows, plus, with stops, the first row where each candidate
    entry's stop could fire (`rara.backtest.kernels.stop_rows`). That is exact: on a dropped row
    it would do nothing.

What vectorbt cannot express: checking stops on the entry bar itself (they are armed after the
entry fill, so from the next bar); the engine's convention places stops at the entry bar's close
for that reason. The position left open at the end is closed by the engine, not here.

We call the kernel vectorbt's dispatcher (``vectorbt.portfolio.dispatch``) would pick, directly:
the dispatcher re-checks ~40 arguments per call (~2 ms, as much as the whole backtest), and ours
have exact dtypes by construction. The arguments are keywords, so a reordering in a later
vectorbt fails loudly rather than silently.

Limits inherited from vectorbt: amounts within 1e-12 of zero count as zero, so a backtest that has
burnt its cash down to dust stops trading.

Import cost: importing vectorbt (pandas, numba, scipy, plotly, ...) takes ~3 s of CPU; the Rust
kernel needs it too (it reads vectorbt's record dtypes) but no JIT, while the Numba kernel is not
disk-cached (10-30 s of JIT in every fresh process). Hence the lazy imports and `warm_up()`, which
a command that will backtest starts in the background (`rara.backtest.preload`). The Rust kernel
imports ``vectorbt.portfolio.enums`` (so all of vectorbt) on its first call, for the record dtypes:
that import cannot be skipped, only moved off the critical path.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from rara.backtest import preload

F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

# vectorbt enum values (vectorbt.portfolio.enums), spelled out so this module imports without it.
_LONG_ONLY, _SIZE_PERCENT, _STOP_ENTRY_FILL_PRICE, _STOP_EXIT_MARKET = 0, 2, 2, 1
SIDE_BUY = 0  # OrderSide.Buy in the order records
ORDER_FIELDS = [
    ("idx", np.int64),
    ("size", np.float64),
    ("price", np.float64),
    ("fees", np.float64),
    ("side", np.int64),
]


@cache
def kernel(engine: str) -> tuple[str, Any]:
    """The simulator vectorbt's dispatcher would call for `engine`, and the engine it resolved.
    Waits for a background warm-up (`rara.backtest.preload`) rather than importing beside it."""
    preload.wait()
    # Deferred: importing vectorbt costs seconds (see the module docstring).
    from vectorbt._engine import resolve_engine

    resolved = str(resolve_engine(engine))
    if resolved == "rust":
        from vectorbt_rust.portfolio import simulate_from_signals_rs

        return resolved, simulate_from_signals_rs
    from vectorbt.portfolio.nb import simulate_from_signals_nb

    return resolved, simulate_from_signals_nb


@cache
def _constants() -> dict[str, Any]:
    """Per-call constant arguments, as the 0-d arrays of exact dtype both kernels take."""
    f, i = np.float64, np.int64
    a = np.asarray
    return {
        "group_lens": np.ones(1, dtype=i),
        "direction": a(_LONG_ONLY, dtype=i),
        "long_entries": a(False),
        "long_exits": a(False),
        "short_entries": a(False),
        "short_exits": a(False),
        "size_type": a(_SIZE_PERCENT, dtype=i),
        "fixed_fees": a(0.0, dtype=f),
        "min_size": a(0.0, dtype=f),
        "max_size": a(np.inf),
        "size_granularity": a(np.nan),
        "reject_prob": a(0.0, dtype=f),
        "lock_cash": a(False),
        "allow_partial": a(True),
        "raise_reject": a(False),
        "log": a(False),
        "accumulate": a(0, dtype=i),
        "upon_long_conflict": a(0, dtype=i),
        "upon_short_conflict": a(0, dtype=i),
        "upon_dir_conflict": a(0, dtype=i),
        "upon_opposite_entry": a(0, dtype=i),
        "val_price": a(np.inf),
        "sl_trail": a(False),
        "stop_entry_price": a(_STOP_ENTRY_FILL_PRICE, dtype=i),
        "stop_exit_price": a(_STOP_EXIT_MARKET, dtype=i),
        "upon_stop_exit": a(0, dtype=i),
        "upon_stop_update": a(1, dtype=i),
        "auto_call_seq": False,
        "ffill_val_price": True,
        "update_value": False,
        "max_logs": 0,
        "init_temp_records": False,
        "flex_2d": False,
    }


def simulate_signals(
    engine: str,
    open_: F64,
    high: F64,
    low: F64,
    close: F64,
    entries: Bools,
    exits: Bools,
    sl_stop: F64,
    tp_stop: F64,
    *,
    init_cash: float,
    size_fraction: float,
    fee: float,
    slippage: float,
) -> tuple[str, Any]:
    """One long-only column on the given rows: fills at `open_` (+/- slippage), Percent sizing,
    stops anchored on the fill price and filled as market orders. `entries`/`exits` are the
    signals acting on each row, already shifted and never both set. Returns the engine that ran
    and vectorbt's order records (fields idx, size, price, fees, side; idx is a row number)."""
    name, run = kernel(engine)
    m = open_.shape[0]
    if m == 0:
        return name, np.zeros(0, dtype=ORDER_FIELDS)
    orders, _ = run(
        target_shape=(m, 1),
        init_cash=np.array([init_cash]),
        call_seq=np.zeros((m, 1), dtype=np.int64),
        entries=entries,
        exits=exits,
        size=np.asarray(size_fraction),
        price=open_,
        fees=np.asarray(fee),
        slippage=np.asarray(slippage),
        open=open_,
        high=high,
        low=low,
        close=close,
        sl_stop=sl_stop,
        tp_stop=tp_stop,
        use_stops=bool(np.isfinite(sl_stop).any() or np.isfinite(tp_stop).any()),
        max_orders=min(m, 2 * int(entries.sum()) + 1),
        **_constants(),
    )
    return name, orders
