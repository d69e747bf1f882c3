"""Bounded lesson recall (`LessonStore.recall`) gives exactly the full scan's ranking
(`LessonStore.recall(exhaustive=True)`) on many lessons, and scores the newest ones alone when
the bound on an older lesson's score decides."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rara.research.lesson_schema import fts5_available
from rara.research.memory import RECALL_WINDOW, LessonStore
from rara.research.models import Lesson

REGIMES = ["trend_up", "trend_down", "range", "high_volatility"]
WORDS = ["ema", "crossover", "rsi", "oversold", "breakout", "volatility", "trend", "bounce"]


def _fill(store: LessonStore, n: int, rng: np.random.Generator) -> None:
    for i in range(n):
        run = f"run-{i // 150}"
        words = " ".join(rng.choice(WORDS, size=3))
        store.record(
            Lesson(
                experiment_id=f"{run}-{i:04d}",
                run_id=run,
                iteration=i % 150,
                hypothesis=f"{words} on BTC/USDT",
                family=str(rng.choice(["ma_cross", "rsi_revert", "donchian"])),
                symbol="BTC/USDT" if rng.random() < 0.8 else "ETH/USDT",
                timeframe="1h" if rng.random() < 0.85 else "4h",
                regime=REGIMES[int(rng.integers(4))],  # type: ignore[arg-type]
                outcome=str(rng.choice(["rejected", "error", "duplicate", "passed_checks"])),  # type: ignore[arg-type]
                failed_check="min_trades" if rng.random() < 0.4 else None,
                validation_sharpe=float(rng.normal()),
                insight=f"{rng.choice(WORDS)} did not pay",
            )
        )


@pytest.mark.parametrize("fts", [True, False], ids=["fts5", "fallback"])
def test_bounded_recall_is_the_full_ranking(tmp_path: Path, fts: bool) -> None:
    if fts and not fts5_available():
        pytest.skip("this Python's SQLite has no FTS5")
    rng = np.random.default_rng(2)
    store = LessonStore(tmp_path / "state.db", fts=fts)
    _fill(store, 900, rng)
    queries = ["BTC/USDT 1h range", "ema crossover", "", "nothing matches this", "rsi bounce 4h"]
    asked = 0
    for query in queries:
        for symbol in ("BTC/USDT", "ETH/USDT", "SOL/USDT"):
            for tf in ("1h", "4h"):
                for k in (1, 5, 40, 200):
                    for regime in (None, "range", "trend_up"):
                        for hide in (None, ("run-5", 70), ("run-5", 0), ("run-2", 10)):
                            args = (symbol, tf, query, k, regime, hide)
                            assert store.recall(*args) == store.recall(*args, exhaustive=True)  # type: ignore[arg-type]
                            asked += 1
    assert asked == 5 * 3 * 2 * 4 * 3 * 4
    # both ways were taken: decided within the newest lessons, and scored in full
    assert 0 < store.full_scans < asked
    store.close()


def test_a_typical_recall_scores_only_the_newest_lessons(tmp_path: Path) -> None:
    """The loop's recall: its own market, its regime, the run's lessons newest. However many
    lessons lie below, none is scored."""
    rng = np.random.default_rng(4)
    store = LessonStore(tmp_path / "state.db")
    _fill(store, 3 * RECALL_WINDOW, rng)
    for i in range(2 * RECALL_WINDOW):
        store.record(
            Lesson(
                experiment_id=f"now-{i:04d}",
                run_id="now",
                iteration=i,
                hypothesis="ema crossover on BTC/USDT 1h",
                family="ma_cross",
                symbol="BTC/USDT",
                timeframe="1h",
                regime="range",
                outcome="rejected",
                insight="too few trades in range",
            )
        )
    for cut in range(RECALL_WINDOW, 2 * RECALL_WINDOW, 7):
        args = ("BTC/USDT", "1h", "BTC/USDT 1h range", 5, "range", ("now", cut))
        got = store.recall(*args)  # type: ignore[arg-type]
        assert got == store.recall(*args, exhaustive=True)  # type: ignore[arg-type]
        assert [x.iteration for x in got] == list(range(cut - 1, cut - 6, -1))
    assert store.full_scans == 0
    store.close()
