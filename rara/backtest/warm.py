"""`warm_up`: load (and JIT-compile) the backtest kernels once, in a parent, before forking workers.

It runs tiny backtests and their metrics, so it sits above both `rara.backtest.engine` and
`rara.backtest.metrics` (metrics imports the engine; the engine imports neither).
"""

from __future__ import annotations

import numpy as np

from rara.backtest.engine import BacktestConfig, Engine, run_backtest
from rara.backtest.metrics import compute_metrics
from rara.domain.market import Candles


def warm_up(engine: Engine = "auto") -> str:
    """Import vectorbt and numba and run tiny backtests and metrics through every code path, so
    the kernels are loaded (and JIT-compiled for the Numba engine). Call once in a parent process
    before forking workers. Returns the engine that ran ("rust" or "numba")."""
    cfg = BacktestConfig(engine=engine)
    px = np.array([100.0, 101.0, 99.0, 102.0, 103.0])
    sig = np.array([True, False, False, False, False])
    out = np.array([False, False, False, False, True])
    ran = ""
    # Catalog candles are read-only arrays, which Numba compiles separately: warm both kinds.
    for writeable in (True, False):
        o, h, lo, c = px.copy(), px * 1.01, px * 0.99, px.copy()
        for a in (o, h, lo, c):
            a.flags.writeable = writeable
        candles = Candles(np.arange(5, dtype=np.int64) * 60_000, o, h, lo, c, px)
        compute_metrics(run_backtest(candles, sig, out, cfg), candles)
        ran = run_backtest(candles, sig, out, cfg, stop_loss=0.5, take_profit=0.5).engine
    return ran
