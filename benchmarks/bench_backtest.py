"""Backtest engine figures on one year of 1m bars (525,600), SMA 50/200 cross, default costs.

- warm `run_backtest` vs a single-pass Numba loop written here (the practical limit; target <= 5x);
- the same with a stop-loss and a take-profit (the extra pass that finds the rows stops fire on);
- backtesting.py on the same workload vs warm `run_backtest` (target: ours >= 20x faster, ratio
  >= 20). backtesting.py runs a tenth of the year, scaled linearly (the full year takes 20-30 s);
- the first backtest in a fresh process (3 runs): from starting `python -c` to its result
  (target <= 5 s), and its CPU time, against a fresh process that only imports vectorbt (the floor
  under it: the Rust kernel needs no JIT, but reads vectorbt's record dtypes);
- a 100-pair (fast, slow) SMA grid, time and peak memory, run the way rara runs grids (`run_grid`:
  one candidate at a time, reduced to metrics) vs a plain loop of single backtests that keeps the
  results. Each grid runs in its own process, so peak RSS is its own.

Every figure is min / median / max over its repeats; `--quick` runs each once or five times.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numba
import numpy as np
import numpy.typing as npt

from benchmarks.bench_data import ROWS, year_of_minutes
from benchmarks.report import Figure, Spread, print_figures, quick, spread_ms
from rara.backtest import BacktestConfig, run_backtest, warm_up
from rara.domain.market import Candles

REPO = Path(__file__).resolve().parents[1]
FAST, SLOW = 50, 200
GRID = [(f, s) for f in range(5, 55, 5) for s in range(60, 260, 20)]  # 10 x 10 = 100 pairs
BT_SLICE = 52_560  # backtesting.py runs a tenth of the year; its time is scaled by ROWS / BT_SLICE


def sma(x: npt.NDArray[np.float64], window: int) -> npt.NDArray[np.float64]:
    out = np.full(x.shape[0], np.nan)
    cs = np.cumsum(np.insert(x, 0, 0.0))
    out[window - 1 :] = (cs[window:] - cs[:-window]) / window
    return out


def cross(
    fast: npt.NDArray[np.float64], slow: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    up = fast > slow
    prev = np.concatenate(([False], up[:-1]))
    return up & ~prev, ~up & prev


@numba.njit(cache=True)
def single_pass(
    open_: npt.NDArray[np.float64],
    close: npt.NDArray[np.float64],
    entries: npt.NDArray[np.bool_],
    exits: npt.NDArray[np.bool_],
    cash: float,
    fee: float,
    slip: float,
) -> tuple[npt.NDArray[np.float64], int]:
    """The same convention with no stops, in one loop: the floor for any engine."""
    n = open_.shape[0]
    equity = np.empty(n)
    size = 0.0
    trades = 0
    for i in range(n):
        if i > 0:
            if size == 0.0 and entries[i - 1] and not exits[i - 1]:
                fill = open_[i] * (1 + slip)
                size = cash / (fill * (1 + fee))
                cash = 0.0
                trades += 1
            elif size > 0.0 and exits[i - 1] and not entries[i - 1]:
                cash += size * open_[i] * (1 - slip) * (1 - fee)
                size = 0.0
        equity[i] = cash + size * close[i]
    if size > 0.0:
        equity[n - 1] = cash + size * close[n - 1] * (1 - slip) * (1 - fee)
    return equity, trades


def backtesting_py_ms(
    c: Candles, entries: npt.NDArray[np.bool_], exits: npt.NDArray[np.bool_], cfg: BacktestConfig
) -> float:
    """One backtesting.py run on the first BT_SLICE bars: next-open fills, same fee, slippage as
    its `spread`, fractional units (a satoshi) so that 10,000 cash can buy BTC."""
    import backtesting.backtesting as bt_module
    import pandas as pd
    from backtesting import Strategy
    from backtesting.lib import FractionalBacktest

    bt_module._tqdm = lambda seq, **_: seq  # no progress bar

    n = BT_SLICE
    idx = pd.to_datetime(c.ts[:n], unit="ms")
    df = pd.DataFrame(
        {
            "Open": c.open[:n],
            "High": c.high[:n],
            "Low": c.low[:n],
            "Close": c.close[:n],
            "Volume": c.volume[:n],
        },
        index=idx,
    )
    ent, ext = entries[:n], exits[:n]

    class Cross(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            pass

        def next(self) -> None:
            i = len(self.data) - 1
            if ent[i] and not ext[i] and not self.position:
                self.buy()
            elif ext[i] and not ent[i] and self.position:
                self.position.close()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = FractionalBacktest(
            df,
            Cross,
            cash=cfg.init_cash,
            commission=cfg.fee,
            spread=cfg.slippage,
            finalize_trades=True,
        )
        t = time.perf_counter()
        stats = bt.run()
        ms = (time.perf_counter() - t) * 1000
    assert stats["# Trades"] > 0
    return ms


def fresh_process_s(code: str) -> tuple[float, float, str]:
    """Wall seconds from starting `python -c code` to its first line of output (the result), and
    the CPU seconds it used until it ended. The interpreter's teardown of vectorbt and numba (~1 s
    after the work is done) is not in the wall time; CPU time is steadier on a busy machine."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as p:
        assert p.stdout is not None
        line = p.stdout.readline()
        wall = time.perf_counter() - t
        p.wait()
    assert p.returncode == 0 and line.strip(), f"{code!r} failed"
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, line.strip()


def fresh_process_spread(code: str, repeat: int = 3) -> tuple[Spread, Spread, str]:
    runs = [fresh_process_s(code) for _ in range(repeat)]
    return Spread.of(r[0] for r in runs), Spread.of(r[1] for r in runs), runs[0][2]


# benchmarks.bench_data.year_of_minutes, inlined: importing that module also imports the catalog
# (pyarrow, duckdb, ~0.5 s) which is data plumbing, not backtest cost. The parent checks that the
# child's result equals its own on year_of_minutes().
FIRST_BACKTEST = """
import numpy as np
from rara.backtest import run_backtest
from rara.domain.market import Candles, parse_utc
rows = 525_600
rng = np.random.default_rng(7)
close = 40_000 * np.exp(np.cumsum(rng.normal(0, 0.0008, rows)))
open_ = np.concatenate([[40_000.0], close[:-1]])
spread = np.abs(rng.normal(0, 0.0004, rows))
ts = parse_utc("2023-01-01") + np.arange(rows, dtype=np.int64) * 60_000
c = Candles(ts, open_, np.maximum(open_, close) * (1 + spread),
            np.minimum(open_, close) * (1 - spread), close, rng.lognormal(1, 1, rows))
cs = np.cumsum(np.insert(c.close, 0, 0.0))
up = np.zeros(len(c), bool)
up[199:] = (cs[200:] - cs[150:-50]) / 50 > (cs[200:] - cs[:-200]) / 200
prev = np.concatenate(([False], up[:-1]))
print(repr(run_backtest(c, up & ~prev, ~up & prev).final_equity))
"""

GRID_CHILD = """
import json, sys
from benchmarks.bench_backtest import grid_child
print(json.dumps(grid_child(sys.argv[1])))
"""


def grid_child(way: str) -> dict[str, float]:
    """Run the 100-pair grid one way in this (fresh) process: wall ms and peak RSS growth MB."""
    from benchmarks.report import peak_rss_mb
    from rara.backtest import compute_metrics, run_grid

    c = year_of_minutes()
    smas = {w: sma(c.close, w) for w in {w for pair in GRID for w in pair}}
    warm_up()
    base = peak_rss_mb()
    t = time.perf_counter()
    signals = (cross(smas[f], smas[s]) for f, s in GRID)
    if way == "run_grid":
        metrics = run_grid(c, signals)
    else:
        results = [run_backtest(c, e, x) for e, x in signals]
        metrics = [compute_metrics(r, c) for r in results]
    ms = (time.perf_counter() - t) * 1000
    peak = peak_rss_mb()
    assert len(metrics) == len(GRID)
    return {"ms": ms, "peak_mb": peak - base}


def run_grid_child(way: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", GRID_CHILD, way],
        check=True,
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def run() -> list[Figure]:
    cfg = BacktestConfig()
    engine = warm_up()
    c = year_of_minutes()
    assert len(c) == ROWS
    entries, exits = cross(sma(c.close, FAST), sma(c.close, SLOW))
    res = run_backtest(c, entries, exits, cfg)
    ref_equity, ref_trades = single_pass(
        c.open, c.close, entries, exits, cfg.init_cash, cfg.fee, cfg.slippage
    )
    assert ref_trades == len(res.trades)
    np.testing.assert_allclose(res.equity, ref_equity, rtol=1e-9)
    q = quick()
    r = 5 if q else 15
    ours = spread_ms(lambda: run_backtest(c, entries, exits, cfg), r)
    stops = spread_ms(
        lambda: run_backtest(c, entries, exits, cfg, stop_loss=0.01, take_profit=0.02), r
    )
    floor = spread_ms(
        lambda: single_pass(c.open, c.close, entries, exits, cfg.init_cash, cfg.fee, cfg.slippage),
        r,
    )
    scale = ROWS / BT_SLICE
    bt = Spread.of(backtesting_py_ms(c, entries, exits, cfg) * scale for _ in range(1 if q else 3))
    first, first_cpu, out = fresh_process_spread(FIRST_BACKTEST, 1 if q else 3)
    assert float(out) == res.final_equity, "the fresh process saw other data"
    vbt_import, vbt_import_cpu, _ = fresh_process_spread(
        "import vectorbt; print('ok')", 1 if q else 3
    )
    grids = [run_grid_child("run_grid") for _ in range(1 if q else 2)]
    loops = [run_grid_child("loop") for _ in range(1 if q else 2)]
    bt_name = f"backtesting.py (x{ROWS // BT_SLICE} of {BT_SLICE:,} bars)"
    loop_name = "plain loop of run_backtest"
    return [
        Figure(
            f"warm run_backtest ({engine})",
            ours,
            "ms",
            "single-pass numba loop",
            floor,
            "target <= 5x",
        ),
        Figure(
            "warm run_backtest, 1% SL + 2% TP",
            stops,
            "ms",
            "same without stops",
            ours,
            "stop pre-pass",
        ),
        Figure(bt_name, bt, "ms", "warm run_backtest", ours, "target >= 20x"),
        Figure(
            "first backtest, fresh process (wall)",
            first,
            "s",
            "fresh `import vectorbt`",
            vbt_import,
            "target <= 5 s",
        ),
        Figure(
            "first backtest, fresh process (CPU)",
            first_cpu,
            "s",
            "fresh `import vectorbt`",
            vbt_import_cpu,
            "user + sys, whole process",
        ),
        Figure(
            "100-pair grid, run_grid: time",
            Spread.of(g["ms"] for g in grids),
            "ms",
            loop_name,
            Spread.of(lp["ms"] for lp in loops),
            "warm, metrics included",
        ),
        Figure(
            "100-pair grid, run_grid: peak RSS growth",
            Spread.of(g["peak_mb"] for g in grids),
            "MB",
            loop_name,
            Spread.of(lp["peak_mb"] for lp in loops),
            "one run at a time",
        ),
    ]


if __name__ == "__main__":
    print_figures("backtest engine (525,600 1m bars, SMA 50/200)", run())
