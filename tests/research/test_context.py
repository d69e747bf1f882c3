"""The proposer's history (`rara.research.context.EarlierExperiments`) is the full scan's list and
best-so-far whatever the finish order and cut, and converts each experiment once."""

from __future__ import annotations

import numpy as np

from rara.domain.market import Instrument, Timeframe
from rara.research.context import EarlierExperiments, best_of
from rara.research.models import experiment_id
from rara.research.record import IterationResult
from rara.research.store import Experiment

BTC = Instrument(exchange="binance", symbol="BTC/USDT", timeframe=Timeframe.parse("1h"))


def _experiment(i: int, sharpe: float | None) -> Experiment:
    row = IterationResult(iteration=i, experiment_id=experiment_id("r", i), outcome="rejected")
    return row.experiment("r", "builtin", BTC, 10).model_copy(update={"validation_sharpe": sharpe})


def _finish_order(n: int, rng: np.random.Generator) -> list[int]:
    """Iterations in batches of two, the second now and then finishing first (a proposer error)."""
    order: list[int] = []
    for start in range(0, n, 2):
        batch = list(range(start, min(start + 2, n)))
        order += batch[::-1] if rng.random() < 0.3 else batch
    return order


def test_history_and_best_match_the_full_scan() -> None:
    rng = np.random.default_rng(5)
    sharpes = [None, 0.5, 1.0, 1.0, -0.2, float("nan")]
    n = 120
    exps = {i: _experiment(i, sharpes[int(rng.integers(len(sharpes)))]) for i in range(n)}
    order = _finish_order(n, rng)
    finished: list[Experiment] = []
    kept = EarlierExperiments()
    calls = 0
    for step, i in enumerate(order):
        # contexts as the loop asks for them: the batch's start, the iteration itself, and now
        # and then an earlier horizon (a budget stop) or a far one
        for cut in {i - i % 2, i, max(0, i - 7), i + 5}:
            history, best = kept.before(finished, cut)
            earlier = [e for e in finished if e.iteration < cut]
            assert history == [e.as_outcome() for e in earlier]
            assert best is best_of(earlier)
            calls += 1
        finished.append(exps[i])
        if step == 60:  # the run is resumed: a new list of the same rows, read in iteration order
            finished = sorted(finished, key=lambda e: e.iteration)
    assert calls > 4 * n // 2
    # one conversion per experiment, and one more for each re-read after the resume
    assert kept.conversions <= n + 61


def test_a_returned_history_does_not_change_when_the_run_goes_on() -> None:
    finished = [_experiment(i, 0.1 * i) for i in range(4)]
    kept = EarlierExperiments()
    first, _ = kept.before(finished, 2)
    finished.append(_experiment(4, 1.0))
    second, best = kept.before(finished, 5)
    assert [o.iteration for o in first] == [0, 1]
    assert [o.iteration for o in second] == [0, 1, 2, 3, 4] and best is finished[-1]
    assert kept.conversions == 5
