"""The paper engine's cost per bar and its replay throughput: donchian_breakout (a strategy with
stops, so trigger orders are in the mix) replaying the shipped BTC/USDT 1h candles, every replay
in a fresh $RARA_HOME.

- the sandbox evaluation per bar, at the replay batch (64 bars per evaluation) and at batch 1
  (live: one evaluation per closed bar);
- "everything else" per bar (venue, fills, ledger, stops, kill switch, risk gate, journal, equity
  mark): median, p99 and max over every bar of a replay; the p99 is given min / median / max over
  the replays, against the target of <= 2 ms;
- replay throughput in bars per second, end to end of the engine loop (session opened, then
  `run()`), for one strategy and for ten at once, against the backtest of the same strategy over
  the same bars (strategy resolved, sandbox opened, one evaluation, `run_backtest`).

Ten at once is what a daemon does: ten deployments in one process, each on its own thread with
its own session, sandbox and run id, all writing to the one home's state database. The machine
has 2 cores: the engine loops share one GIL and the sandbox children run beside them.

`RARA_BENCH_PAPER_PROFILE=1` also prints a cProfile of "everything else" over one replay.

    python -m benchmarks.bench_paper [--quick]
"""

from __future__ import annotations

import cProfile
import os
import pstats
import statistics
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from benchmarks.report import Figure, Spread, env_int, print_figures, quick, verdict
from benchmarks.research_runs import fresh_home

STRATEGY = "strategies/examples/donchian_breakout/strategy.py"
SYMBOL, TIMEFRAME = "BTC/USDT", "1h"
TARGET_MS = 2.0
REPLAY_BATCH = 64


@dataclass(frozen=True)
class Replay:
    """One replay in a fresh home: its bars, wall seconds (open, run), and per-bar timings."""

    bars: int
    open_s: float
    run_s: float
    sandbox_ms_per_bar: float
    sandbox_batches_ms: list[float]
    other_ms: list[float]
    other_cpu_ms: list[float]

    @property
    def bars_per_s(self) -> float:
        return self.bars / (self.open_s + self.run_s)

    def other_percentile(self, q: float, cpu: bool = False) -> float:
        return percentile(self.other_cpu_ms if cpu else self.other_ms, q)


def percentile(values: list[float], q: float) -> float:
    """The value below which a fraction `q` of `values` lies (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _bar_range(bars: int | None) -> tuple[int | None, int | None]:
    """(start_ms, end_ms) of the last `bars` bars of the sample (None: all of it)."""
    if bars is None:
        return None, None
    from rara.data.catalog import Catalog
    from rara.home import Home

    cat = Catalog(Home.from_env().data_dir)
    ts = cat.load(cat.resolve(SYMBOL, TIMEFRAME)).ts
    return int(ts[-bars]), None


def replay(
    bars: int | None,
    batch: int = REPLAY_BATCH,
    run_id: str | None = None,
    profile: cProfile.Profile | None = None,
) -> Replay:
    """Open a paper session in the current $RARA_HOME and run it to the feed's end."""
    from rara.home import Home
    from rara.trading.deployment import BarTimings
    from rara.trading.session import open_paper_session

    start_ms, end_ms = _bar_range(bars)
    timings = BarTimings()
    t0 = time.perf_counter()
    session = open_paper_session(
        Home.from_env(),
        STRATEGY,
        symbol=SYMBOL,
        timeframe=TIMEFRAME,
        start_ms=start_ms,
        end_ms=end_ms,
        batch_bars=batch,
        run_id=run_id,
        timings=timings,
    )
    t1 = time.perf_counter()
    with session:
        if profile is not None:
            profile.enable()
        ended = session.run()
        if profile is not None:
            profile.disable()
    t2 = time.perf_counter()
    if ended != "feed_ended":
        raise RuntimeError(f"paper replay ended with {ended!r}")
    n = sum(k for _, k in timings.sandbox_ms)
    return Replay(
        bars=len(timings.other_ms),
        open_s=t1 - t0,
        run_s=t2 - t1,
        sandbox_ms_per_bar=sum(ms for ms, _ in timings.sandbox_ms) / max(1, n),
        sandbox_batches_ms=[ms / k for ms, k in timings.sandbox_ms],
        other_ms=timings.other_ms,
        other_cpu_ms=timings.other_cpu_ms,
    )


def fresh_replay(bars: int | None, batch: int = REPLAY_BATCH) -> Replay:
    with fresh_home("rara-bench-paper-"):
        return replay(bars, batch)


def ten_at_once(bars: int, strategies: int = 10) -> float:
    """Bars per second over `strategies` deployments replaying at once in one process (threads),
    one fresh home shared by them; wall time from the first open to the last run's end."""
    with fresh_home("rara-bench-paper-ten-"):
        _bar_range(bars)  # the catalog read once before the clock starts, as for one strategy
        t = time.perf_counter()
        with ThreadPoolExecutor(strategies) as pool:
            runs = list(pool.map(lambda k: replay(bars, run_id=f"bench_{k}"), range(strategies)))
        return sum(r.bars for r in runs) / (time.perf_counter() - t)


def backtest_bars_per_s(bars: int | None) -> float:
    """The backtest of the same strategy over the same bars, end to end in this process."""
    from rara.config import load_settings
    from rara.home import Home
    from rara.services.backtest import StrategyOnMarket, backtest_strategy

    with fresh_home("rara-bench-paper-bt-"):
        start_ms, _ = _bar_range(bars)
        home = Home.from_env()
        t = time.perf_counter()
        market = StrategyOnMarket.open(
            STRATEGY, home=home, symbol=SYMBOL, timeframe=TIMEFRAME, start_ms=start_ms
        )
        n = len(market.candles)
        backtest_strategy(market, load_settings(home).backtest)
        return n / (time.perf_counter() - t)


def sizes() -> dict[str, int | None]:
    """Bars per replay and repeats; quick mode shrinks every one."""
    if quick():
        return {"bars": 300, "replays": 2, "live_bars": 12, "ten_bars": 60, "ten_repeats": 1}
    return {
        "bars": None,  # the whole sample (5,976 bars)
        "replays": env_int("RARA_BENCH_PAPER_REPLAYS", 3),
        "live_bars": env_int("RARA_BENCH_PAPER_LIVE_BARS", 240),
        "ten_bars": env_int("RARA_BENCH_PAPER_TEN_BARS", 1_000),
        "ten_repeats": 2,
    }


def _profile(bars: int | None) -> None:
    prof = cProfile.Profile()
    with fresh_home("rara-bench-paper-prof-"):
        replay(bars, profile=prof)
    print("   cProfile of one replay (engine loop, sandbox included), by own time:")
    pstats.Stats(prof, stream=sys.stdout).sort_stats("tottime").print_stats(25)


def _chunks(values: list[float], parts: int) -> Iterator[list[float]]:
    for k in range(parts):
        chunk = values[k * len(values) // parts : (k + 1) * len(values) // parts]
        if chunk:
            yield chunk


def run() -> list[Figure]:
    s = sizes()
    bars = s["bars"]
    replays_n, live_bars = int(s["replays"] or 1), int(s["live_bars"] or 1)
    ten_bars, ten_repeats = int(s["ten_bars"] or 1), int(s["ten_repeats"] or 1)
    fresh_replay(60)  # warm: imports, numba cache, sandbox zygote image, page cache
    backtest_bars_per_s(60)
    replays: list[Replay] = []
    backtests: list[float] = []
    for _ in range(replays_n):  # interleaved, so both see the same spells of load
        replays.append(fresh_replay(bars))
        backtests.append(backtest_bars_per_s(bars))
    live = fresh_replay(live_bars, batch=1)
    one_small: list[float] = []
    ten: list[float] = []
    for _ in range(ten_repeats):
        one_small.append(fresh_replay(ten_bars).bars_per_s)
        ten.append(ten_at_once(ten_bars))
    if os.environ.get("RARA_BENCH_PAPER_PROFILE", "") not in ("", "0"):
        _profile(bars)

    n = replays[0].bars
    p99 = Spread.of(r.other_percentile(0.99) for r in replays)
    p99_cpu = Spread.of(r.other_percentile(0.99, cpu=True) for r in replays)
    # wall time a bar spent not running: preempted by other work, or blocked in I/O (a WAL
    # checkpoint's writes); per replay, the sum over its bars
    waited = Spread.of(
        sum(w - c for w, c in zip(r.other_ms, r.other_cpu_ms, strict=True)) / 1000 for r in replays
    )
    median = Spread.of(statistics.median(r.other_ms) for r in replays)
    worst = Spread.of(max(r.other_ms) for r in replays)
    sandbox_64 = Spread.of(r.sandbox_ms_per_bar for r in replays)
    # batch 1: every evaluation is one bar; spread over the evaluations themselves
    sandbox_1 = Spread.of(live.sandbox_batches_ms)
    # everything else in the batch-64 replays, the same quantity per evaluation's bars
    other_mean = Spread.of(statistics.fmean(r.other_ms) for r in replays)
    print(
        f"   {n} bars per replay, {replays_n} replays (fresh homes); batch 1 over {live.bars} "
        f"bars; ten at once: 10 threads x {ten_bars} bars, one home, one process"
    )
    print(
        "   everything else, p99 per fifth of the first replay (ms): "
        + " ".join(f"{percentile(c, 0.99):.2f}" for c in _chunks(replays[0].other_ms, 5))
    )
    met = verdict(p99.median <= TARGET_MS)
    ref64 = f"sandbox per bar, batch {REPLAY_BATCH}"
    per_s = Spread.of(r.bars_per_s for r in replays)
    return [
        Figure(f"sandbox evaluation per bar, batch {REPLAY_BATCH}", sandbox_64, "ms/bar",
               "batch 1 (live)", sandbox_1, "one evaluation per 64 bars"),
        Figure("sandbox evaluation per bar, batch 1 (live)", sandbox_1, "ms/bar",
               "everything else, mean per bar", other_mean, "one evaluation per closed bar"),
        Figure("everything else per bar, median", median, "ms", ref64, sandbox_64,
               "venue, fills, ledger, stops, gate, journal, mark"),
        Figure("everything else per bar, p99", p99, "ms", ref64, sandbox_64,
               f"target <= {TARGET_MS:g} ms at p99: {met}", acceptance="12.6"),
        Figure("everything else per bar, p99, CPU of the thread", p99_cpu, "ms", ref64,
               sandbox_64, "the same bars' CPU time: what load does not inflate"),
        Figure("everything else per bar, max", worst, "ms", ref64, sandbox_64),
        Figure("everything else, wall minus CPU, per replay", waited, "s", "replay, open + run",
               Spread.of(r.open_s + r.run_s for r in replays), "preempted or blocked in I/O"),
        Figure(f"replay, 1 strategy ({n} bars), open + run", per_s, "bars/s",
               "backtest, open + eval + run", Spread.of(backtests), acceptance="12.6"),
        Figure(f"replay, 10 strategies at once ({ten_bars} bars each)", Spread.of(ten), "bars/s",
               f"1 strategy, same {ten_bars} bars", Spread.of(one_small),
               "all ten together, threads in one process", acceptance="12.6"),
    ]  # fmt: skip


if __name__ == "__main__":
    if "--quick" in sys.argv[1:]:
        os.environ["RARA_BENCH_QUICK"] = "1"
    print_figures("paper engine (donchian_breakout, BTC/USDT 1h, fresh homes)", run())
