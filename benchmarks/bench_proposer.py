"""The built-in proposer's `propose()` as its history grows to 400 outcomes (the incremental path
a run takes) and cold with those 400 outcomes (the path a resumed run takes), against the static
check every proposal goes through next (rara_sandbox's lint of the proposed source).

Outcomes are made up, not backtested: z-score reversion families "earn", the rest "lose", with
noise from the source hash, so the search has something to learn from at no backtest cost.

    python -m benchmarks.bench_proposer
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from benchmarks.report import Figure, Spread, print_figures

ITERATIONS = 400  # every proposal is timed: min / median / max over them
SEED = 8


def _context(iteration: int, history: list[Any]) -> Any:
    from rara.research.models import ProposerContext

    return ProposerContext(
        run_id="bench",
        iteration=iteration,
        seed=7,
        exchange="binance",
        symbol="BTC/USDT",
        timeframe="1h",
        regime="range",
        history=history,
    )


def _outcome(iteration: int, cand: Any) -> Any:
    from rara.domain.strategy import source_sha256
    from rara.research.models import ExperimentOutcome

    h = int(hashlib.sha256(cand.source.encode()).hexdigest()[:8], 16)
    good = cand.hypothesis.family.startswith("zscore_reversion")
    return ExperimentOutcome(
        experiment_id=f"exp-{iteration:04d}",
        iteration=iteration,
        family=cand.hypothesis.family,
        origin=cand.origin,
        params=cand.params,
        source_sha256=source_sha256(cand.source),
        outcome="rejected",
        failed_check="floor.sharpe",
        validation_sharpe=(2.0 if good else -1.0) + (h % 1000) / 1000.0 - 0.5,
        validation_trades=40 + h % 20,
    )


def run() -> list[Figure]:
    from rara.research.builtin import BuiltinProposer
    from rara_sandbox.lint import lint

    proposer = BuiltinProposer(seed=SEED)
    history: list[Any] = []
    propose_ms: list[float] = []
    lint_ms: list[float] = []
    for i in range(ITERATIONS):
        ctx = _context(i, history)
        t = time.perf_counter()
        cand = proposer.propose(ctx).candidate
        propose_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        lint(cand.source)
        lint_ms.append((time.perf_counter() - t) * 1000)
        history.append(_outcome(i, cand))
    ctx = _context(ITERATIONS, history)
    cold_ms = []
    for _ in range(3):  # a new proposer each time: what a resumed run pays once
        t = time.perf_counter()
        BuiltinProposer(seed=SEED).propose(ctx)
        cold_ms.append((time.perf_counter() - t) * 1000)

    grown = f"history 0..{ITERATIONS - 1}"
    early, late = propose_ms[: ITERATIONS // 4], propose_ms[-ITERATIONS // 4 :]
    return [
        Figure("propose()", Spread.of(propose_ms), "ms", "lint of the source", Spread.of(lint_ms),
               grown),
        Figure(f"propose(), last {len(late)}", Spread.of(late), "ms", f"first {len(early)}",
               Spread.of(early), "growth with history: ratio ~1 is flat"),
        Figure(f"propose() cold, {ITERATIONS} outcomes", Spread.of(cold_ms), "ms",
               "lint of the source", Spread.of(lint_ms), "what a resumed run pays once"),
    ]  # fmt: skip


if __name__ == "__main__":
    print_figures(f"built-in proposer ({ITERATIONS} proposals)", run())
