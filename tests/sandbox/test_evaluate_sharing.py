"""One evaluation per distinct input: what the look-ahead plan's windows, probes and early proof
share inside `evaluate`, counted by the strategy itself (it prints the length it is handed; the
print buffer is the one channel that outlives a window's namespace, and only the host reads it)."""

from __future__ import annotations

from collections import Counter

import numpy as np

from rara_sandbox.candles import Candles
from rara_sandbox.evaluate import evaluate
from rara_sandbox.results import Probe, ProofSpec

META = (
    '{"name": "t", "version": "1.0.0", "api_version": 1, "timeframe": "1h", "lookback": 5, '
    '"description": "test", "params": {"n": 5}}'
)
COUNTING = f"""def meta():
    return {META}


def on_candles(candles, params):
    print(len(candles.close))
    c = candles.close
    return c > ta.ema(c, params["n"]), c < ta.sma(c, params["n"])


def risk_levels(candles, params):
    atr = ta.atr(candles.high, candles.low, candles.close, 3)
    return ta.clip(atr / candles.close, 0.01, 0.5), 0.2
"""
N = 200


def _candles() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    close = 100 + np.cumsum(rng.normal(0, 1, N))
    return {
        "timestamps": 1_704_067_200_000 + np.arange(N, dtype=np.int64) * 3_600_000,
        "open": close,
        "high": close + 1.0,
        "low": close - 1.0,
        "close": close,
        "volume": np.ones(N),
    }


def _lengths(printed: str) -> Counter[int]:
    return Counter(int(line) for line in printed.split())


def test_a_window_inside_the_early_proof_is_evaluated_once() -> None:
    early = ProofSpec(0, 64, 10.0, to_bar=64)
    result = evaluate(COUNTING, _candles(), None, [3, 10, 50, 120], proof=early)
    assert result.ok, result.error
    seen = _lengths(result.printed)
    # every prefix length once: the windows 3, 10 and 50 are the proof's prefixes too
    assert all(seen[m] == 1 for m in range(1, 65)), seen
    assert seen[120] == seen[N] == 1
    assert result.proof is not None
    for w in result.windows[:3]:
        at = w.n - 1
        assert result.proof.prefix.entries[at] == w.entries[-1]
        assert result.proof.prefix.exits[at] == w.exits[-1]
        assert result.proof.prefix.stop_loss[at] == w.stop_loss[-1]  # type: ignore[index]
        assert result.proof.prefix.take_profit[at] == 0.2


def test_the_full_proof_reuses_the_full_window() -> None:
    result = evaluate(COUNTING, _candles(), None, [], proof=ProofSpec(150, 30, 60.0))
    assert result.ok, result.error
    seen = _lengths(result.printed)
    assert seen[N] == 1  # the full window, which is also the proof's last prefix
    assert all(seen[m] == 1 for m in range(151, N)), seen
    assert seen[30] == N - 150  # a 30-bar trailing window for every proven bar


def test_a_shuffle_that_moves_nothing_is_the_full_history() -> None:
    bars = Candles(_candles())
    moved = next(s for s in range(100) if bars.perturbation(N - 3, s)[-1] == N - 2)
    probes = [Probe("perturb", N - 2, 7), Probe("perturb", N - 3, moved), Probe("suffix", 40)]
    result = evaluate(COUNTING, _candles(), None, [], probes=probes)
    assert result.ok, result.error
    seen = _lengths(result.printed)
    # the shuffle after bar N-2 moves one bar: the same candles as the full run, evaluated once;
    # the shuffle after N-3 that swaps the last two bars is a new input and is evaluated
    assert seen == Counter({N: 2, N - 40: 1})
    full, same, swapped, _ = result.windows[-1], *(p.window for p in result.probes)
    assert same is full and swapped is not full


def test_a_perturbed_copy_shares_the_timestamps_and_owns_its_prices() -> None:
    bars = Candles(_candles())
    shuffled = bars.perturbed_after(50, 3)
    assert shuffled.timestamps is bars.timestamps
    for name in ("open", "high", "low", "close", "volume"):
        column = getattr(shuffled, name)
        assert not column.flags.writeable and column.base is None
        np.testing.assert_array_equal(column[:51], getattr(bars, name)[:51])
    window = bars.window(10)
    assert len(window) == 10 and not window.close.flags.writeable
    assert np.shares_memory(window.close, bars.close)
