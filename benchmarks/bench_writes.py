"""What a research candidate costs to store: the writes one gated candidate makes (its hypothesis
event, two sealed trials, its experiment row with its seal and completion event), anchored after
every append as before, against the same writes anchored once per batch of two candidates, that
write in the background while the next batch works, with the completion committed with its row
(what the research loop does). The timed span ends when the last anchor is on disk.

Both modes run in the same process, interleaved, each repeat in a fresh state directory; figures
are ms per candidate, min/median/max over the repeats.

    python -m benchmarks.bench_writes
"""

from __future__ import annotations

import tempfile
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import numpy as np

from benchmarks.report import Figure, Spread, quick
from rara.domain.events import (
    EventPayload,
    HypothesisForecast,
    ResearchExperimentCompleted,
    ResearchHypothesisCreated,
)
from rara.domain.market import Instrument, Timeframe
from rara.events import EventDraft, EventStore, anchoring_deferred, wait_for_anchor
from rara.research.models import experiment_id
from rara.research.record import IterationResult
from rara.research.store import ResearchStore
from rara.validation.trials import TrialKey, TrialStore

CANDIDATES = 200
BATCH = 2  # the research loop's default batch
REPEATS = 5
BARS = 5_000  # a segment's returns: what a trial row carries
INST = Instrument(exchange="binance", symbol="BTC/USDT", timeframe=Timeframe.parse("1h"))


def _draft(run: str, i: int, step: str, payload: EventPayload) -> EventDraft:
    return EventDraft(
        payload=payload, source="bench", correlation_id=run, event_id=f"{run}/{i}/{step}"
    )


def _candidate(
    i: int, run: str, events: EventStore, trials: TrialStore, store: ResearchStore, batched: bool
) -> None:
    hypothesis = ResearchHypothesisCreated(
        experiment_id=experiment_id(run, i),
        iteration=i,
        family="bench",
        hypothesis="a benchmark candidate",
        origin="bench",
        forecast=HypothesisForecast(validation_sharpe=None, pass_probability=None),
    )
    events.append_many([_draft(run, i, "hypothesis", hypothesis)])
    returns = np.random.default_rng(i).normal(0.0, 0.01, BARS)
    for segment in ("train", "validation"):
        key = TrialKey(
            source_sha256=f"{i:064x}",
            params={"n": i},
            exchange="binance",
            symbol="BTC/USDT",
            timeframe="1h",
            segment=segment,
            start_ms=0,
            end_ms=BARS * 3_600_000,
            fee=0.001,
            slippage=0.0005,
        )
        trials.record(key, f"s{i}", returns, 0.01, {"trades": 10}, run)
    result = IterationResult(
        iteration=i, experiment_id=experiment_id(run, i), outcome="rejected", failed_check="pbo"
    )
    completed = ResearchExperimentCompleted(
        experiment_id=result.experiment_id,
        iteration=i,
        family="bench",
        outcome="rejected",
        failed_check="pbo",
        fix_rounds=0,
        validation_sharpe=0.1,
        validation_trades=10,
        cost_usd=0.0,
        insight="rejected: pbo",
    )
    row = result.experiment(run, "bench", INST, BARS)
    draft = _draft(run, i, "completed", completed)
    if batched:
        store.record(row, None, [draft])
    else:
        events.append_many([draft])
        store.record(row, None)


def _per_candidate_ms(batched: bool, repeat: int, candidates: int = CANDIDATES) -> float:
    with tempfile.TemporaryDirectory(prefix="rara-bench-writes-") as home:
        db = Path(home) / "rara.db"
        run = f"run-{repeat}"
        with EventStore(db) as events, TrialStore(db) as trials, ResearchStore(db) as store:
            t = time.perf_counter()
            for start in range(0, candidates, BATCH):
                scope: AbstractContextManager[None] = (
                    anchoring_deferred(db, in_background=True) if batched else nullcontext()
                )
                with scope:
                    for i in range(start, start + BATCH):
                        _candidate(i, run, events, trials, store, batched)
            wait_for_anchor(db)
            return (time.perf_counter() - t) * 1000 / candidates


def run() -> list[Figure]:
    per_row: list[float] = []
    batched: list[float] = []
    repeats, candidates = (1, 20) if quick() else (REPEATS, CANDIDATES)
    for repeat in range(repeats):  # interleaved: both modes see the same machine load
        per_row.append(_per_candidate_ms(False, repeat, candidates))
        batched.append(_per_candidate_ms(True, repeat, candidates))
    return [
        Figure(
            "storage per candidate, anchored once per batch",
            Spread.of(batched),
            "ms",
            "anchored after every append",
            Spread.of(per_row),
        )
    ]


if __name__ == "__main__":
    import os

    from benchmarks.report import print_figures

    load = os.getloadavg()
    print_figures(
        f"research storage, {CANDIDATES} candidates x {REPEATS} (load {load[0]:.2f})", run()
    )
