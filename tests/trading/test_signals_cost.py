"""What a bar's signal costs in the jail: one closed bar per evaluation (live) against 64 per
evaluation (a fast replay), in ms per bar, min/median/max over repeats, with the machine's load.

``python tests/trading/test_signals_cost.py [repeats]`` prints the figures (the integrator's
``make bench`` takes them from here); the test runs the same measurement once at a tiny size and
checks that both batchings decide the same bars. Nothing asserts a duration.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __name__ == "__main__":  # run as a script from anywhere: the checkout on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np

from rara.domain.market import Candles
from rara.runner.sandbox import JailSandbox
from rara.trading.signals import BarSignal, SignalBatch, SignalPath
from tests.kit.candles import shipped_btc
from tests.kit.paths import EXAMPLES

MARGIN = 50


@dataclass(frozen=True)
class Cost:
    strategy: str
    trailing_window: int
    batch: int
    ms_per_bar: tuple[float, ...]  # one figure per evaluation
    bars: tuple[BarSignal, ...]  # what the evaluations decided, in bar order

    def line(self) -> str:
        ms = sorted(self.ms_per_bar)
        return (
            f"{self.strategy:<20} window {self.trailing_window:>3}  batch {self.batch:>2}: "
            f"{ms[0]:7.3f} / {statistics.median(ms):7.3f} / {ms[-1]:7.3f} ms per bar "
            f"(min/median/max of {len(ms)})"
        )


def measure(
    path: SignalPath, candles: Candles, start: int, batch: int, evaluations: int
) -> list[tuple[float, SignalBatch]]:
    """`evaluations` consecutive batches of `batch` bars from `start`, each handed the fewest
    candles its windows need (as the engine does); wall ms per bar of each."""
    out = []
    for k in range(evaluations):
        t0 = start + k * batch
        lo = path.first_needed(t0)
        window = candles.slice(lo, t0 + batch)
        began = time.perf_counter()
        got = path.evaluate(window, t0 - lo)
        elapsed = (time.perf_counter() - began) * 1000.0
        assert isinstance(got, SignalBatch), got
        out.append((elapsed / batch, got))
    return out


def costs(
    jail: JailSandbox, candles: Candles, names: tuple[str, ...], batches: dict[int, int]
) -> list[Cost]:
    """For each example in `names` and each batch size: that many evaluations (`batches`)."""
    found = []
    for name in names:
        path = SignalPath.open(jail, (EXAMPLES / name / "strategy.py").read_text(), None, MARGIN)
        start = path.trailing_window + 10
        path.evaluate(candles.slice(0, start + 1), start)  # warm the zygote's caches
        for batch, evaluations in batches.items():
            runs = measure(path, candles, start, batch, evaluations)
            bars = tuple(b for _, got in runs for b in got.bars)
            found.append(Cost(name, path.trailing_window, batch, tuple(ms for ms, _ in runs), bars))
    return found


def test_batch_sizes_decide_the_same_bars_at_their_own_cost() -> None:
    candles = shipped_btc("1h").slice(0, 600)
    with JailSandbox(wall_s=30.0) as jail:
        found = costs(jail, candles, ("sma_crossover",), {1: 3, 64: 1})
    one, many = found
    assert len(one.ms_per_bar) == 3 and len(many.ms_per_bar) == 1
    assert len(many.bars) == 64
    # NaN levels (none) compare equal here, unlike in a tuple of floats
    np.testing.assert_array_equal(
        [dataclasses.astuple(b) for b in one.bars],
        [dataclasses.astuple(b) for b in many.bars[:3]],
    )
    assert "batch 64" in many.line()


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min)"


def main(repeats: int) -> None:
    candles = shipped_btc("1h").slice(0, 2000)
    print(f"{load()}, {os.cpu_count()} cpus")
    with JailSandbox(wall_s=30.0) as jail:
        for cost in costs(
            jail, candles, ("sma_crossover", "donchian_breakout"), {1: repeats, 64: repeats}
        ):
            print(cost.line())
    print(load())


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
