"""Can the gate tell an edge from noise? Research runs with the built-in proposer, each in a fresh
$RARA_HOME on synthetic 1h candles made by the real CLI (`rara data synth`), through
`ResearchSession` with the settings' sandbox (the jail `make run` uses):

- noise (no edge), several seeds, >= 1,000 candidates in all: the promoted rate (issue 9 asks
  <= 1%);
- the planted momentum edge at its default strength (0.1) and at half of it, >= 5 seeds of 200
  candidates: the share of seeds promoted within 200 candidates, and the candidate number of
  the first promotion.

Per seed it prints the promotions, the first promoted candidate, the candidates that passed every
check before the causality proof and the holdout ("pre-proof"), the best validation Sharpe and the
wall time; then a summary per case as figures. The reference beside each rate is the noise case's
own rate from the same run. `--quick` (or RARA_BENCH_QUICK=1) runs a smoke configuration: one
seed per case, a few candidates on short data.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import dataclass

from benchmarks.report import Figure, Spread, print_figures, quick
from benchmarks.research_runs import fresh_home

# The history the README names for planted-edge research: three years of 1h bars (see README,
# "How much history"). 2024-01-01 + 26,280 bars ends on 2026-12-31.
BARS = 26_280
START = "2024-01-01"
SYMBOL = "SYN/USDT"
PROOF_CHECKS = frozenset({"lookahead.exhaustive", "lookahead.trailing_window", "determinism"})


@dataclass(frozen=True)
class Case:
    name: str
    edge: str | None
    strength: float
    seeds: tuple[int, ...]
    candidates: int
    bars: int = BARS
    # an edge case asks "promoted within `candidates`?": its run stops at the first promotion
    # (every later candidate could only add proofs, minutes each on three years of bars)
    stop_at_first: bool = False


class _FirstPromotion(Exception):
    """Raised from the progress callback to end a run at its first promotion (that candidate is
    finished and stored first: `_finish` calls back after writing the experiment)."""


@dataclass(frozen=True)
class SeedResult:
    case: str
    seed: int
    candidates: int
    promoted: int
    first_promoted: int | None  # 1-based candidate number
    pre_proof: int  # passed every check before the causality proof and the holdout
    first_pre_proof: int | None
    best_validation_sharpe: float | None
    seconds: float

    def line(self) -> str:
        best = self.best_validation_sharpe
        return (
            f"   {self.case:<16} seed {self.seed:>3}: {self.promoted:>3} promoted of "
            f"{self.candidates} (first #{self.first_promoted or '-'}), {self.pre_proof:>3} "
            f"pre-proof (first #{self.first_pre_proof or '-'}), best validation Sharpe "
            f"{'-' if best is None else f'{best:.2f}'}, {self.seconds:.0f} s"
        )


def cases(smoke: bool) -> list[Case]:
    if smoke:
        return [
            Case("noise", None, 0.0, (1,), 4, 2_000),
            Case("edge 0.1", "momentum", 0.1, (1,), 4, 2_000),
            Case("edge 0.05", "momentum", 0.05, (1,), 4, 2_000),
        ]
    seeds = (1, 2, 3, 4, 5)
    return [
        Case("noise", None, 0.0, seeds, 200),  # 1,000 candidates in all
        Case("edge 0.1", "momentum", 0.1, seeds, 200, stop_at_first=True),
        Case("edge 0.05", "momentum", 0.05, seeds, 200, stop_at_first=True),
    ]


def synth(case: Case, seed: int) -> None:
    """Candles through the real CLI, as a user makes them."""
    args = [sys.executable, "-m", "rara", "data", "synth", "--symbol", SYMBOL, "--timeframe"]
    args += ["1h", "--start", START, "--bars", str(case.bars), "--seed", str(seed)]
    if case.edge:
        args += ["--edge", case.edge, "--edge-strength", f"{case.strength:g}"]
    subprocess.run(args, check=True, capture_output=True, env=os.environ.copy())


def run_seed(case: Case, seed: int) -> SeedResult:
    from rara.config import load_settings
    from rara.home import Home
    from rara.research.outcomes import Progress
    from rara.research.run_setup import RunConfig
    from rara.research.session import ResearchSession

    with fresh_home("rara-bench-gate-"):
        synth(case, seed)
        home = Home.from_env()
        settings = load_settings(home)
        cfg = RunConfig(
            exchange="synthetic",
            symbol=SYMBOL,
            timeframe="1h",
            proposer="builtin",
            model=None,
            seed=seed,
            iterations=case.candidates,
            max_cost_usd=None,
            max_duration_s=None,
            backend=settings.sandbox.backend,
        )
        t = time.perf_counter()

        def stop_at_first(progress: Progress) -> None:
            if case.stop_at_first and progress.promoted:
                raise _FirstPromotion

        with ResearchSession(cfg, settings, home) as session:
            with suppress(_FirstPromotion):
                session.run(on_progress=stop_at_first)
            exps = sorted(session.store.of_run(session.run_id), key=lambda e: e.iteration)
        seconds = time.perf_counter() - t
    promoted = [i for i, e in enumerate(exps, 1) if e.outcome == "paper_candidate"]
    pre_proof = [i for i, e in enumerate(exps, 1) if _pre_proof(e.report)]
    sharpes = [e.validation_sharpe for e in exps if e.validation_sharpe is not None]
    return SeedResult(
        case=case.name,
        seed=seed,
        candidates=len(exps),
        promoted=len(promoted),
        first_promoted=promoted[0] if promoted else None,
        pre_proof=len(pre_proof),
        first_pre_proof=pre_proof[0] if pre_proof else None,
        best_validation_sharpe=max(sharpes) if sharpes else None,
        seconds=seconds,
    )


def _pre_proof(report: dict[str, object] | None) -> bool:
    """Every check before the causality proof passed: what failed (if anything) is the proof or
    the holdout, which are read only after all the rest passed."""
    if not report:
        return False
    failed = report.get("failed")
    if not isinstance(failed, list):
        return False
    return all(f in PROOF_CHECKS or str(f).startswith("holdout") for f in failed) and any(
        isinstance(c, dict) and c.get("name") == "lookahead.exhaustive"
        for c in report.get("checks", [])  # type: ignore[union-attr]
    )


def summarise(results: list[SeedResult], noise_rate: float) -> list[Figure]:
    """Per case: rates over all its candidates (counted once), and spreads over its seeds."""
    by_case: dict[str, list[SeedResult]] = {}
    for r in results:
        by_case.setdefault(r.case, []).append(r)
    noise = Spread.once(noise_rate)
    figures: list[Figure] = []
    for name, rows in by_case.items():
        total = sum(r.candidates for r in rows)
        promoted = sum(r.promoted for r in rows)
        rate = 100.0 * promoted / total if total else 0.0
        seeds_hit = sum(r.promoted > 0 for r in rows)
        # issue 9 asks the default strength to be found for most seeds; half of it is reported
        target = {"noise": "<= 1%", "edge 0.1": "most seeds"}.get(name, "")
        if name == "noise":  # an edge case stops at its first promotion: no rate to give
            figures.append(
                Figure(
                    f"{name}: promoted candidates ({total} in all)",
                    Spread.once(rate),
                    "%",
                    "noise promoted rate",
                    noise,
                    "<= 1%",
                )
            )
        figures.append(
            Figure(
                f"{name}: seeds promoted within {rows[0].candidates}",
                Spread.once(100.0 * seeds_hit / len(rows)),
                "% seeds",
                "noise promoted rate",
                noise,
                target,
            )
        )
        firsts = [r.first_promoted for r in rows if r.first_promoted is not None]
        if firsts:
            figures.append(
                Figure(
                    f"{name}: first promotion, over seeds",
                    Spread.of(firsts),
                    "cand #",
                    "candidates per seed",
                    Spread.once(rows[0].candidates),
                )
            )
        pre = sum(r.pre_proof for r in rows)
        figures.append(
            Figure(
                f"{name}: pre-proof passes",
                Spread.once(100.0 * pre / total if total else 0.0),
                "%",
                "noise promoted rate",
                noise,
            )
        )
        per_candidate = Spread.of(r.seconds / max(r.candidates, 1) for r in rows)
        figures.append(
            Figure(
                f"{name}: wall time per candidate, over seeds",
                per_candidate,
                "s",
                "seeds",
                Spread.once(len(rows)),
            )
        )
    return figures


def run() -> list[Figure]:
    smoke = quick()
    results: list[SeedResult] = []
    only = os.environ.get("RARA_BENCH_GATE_CASES")  # e.g. "noise" or "edge 0.1,edge 0.05"
    chosen = [c for c in cases(smoke) if only is None or c.name in only.split(",")]
    for case in chosen:
        for seed in case.seeds:
            r = run_seed(case, seed)
            print(r.line(), flush=True)
            results.append(r)
    noise = [r for r in results if r.case == "noise"]
    noise_total = sum(r.candidates for r in noise)
    noise_rate = 100.0 * sum(r.promoted for r in noise) / noise_total if noise_total else 0.0
    return summarise(results, noise_rate)


if __name__ == "__main__":
    if "--quick" in sys.argv[1:]:
        os.environ["RARA_BENCH_QUICK"] = "1"
    print_figures("gate on noise and on a planted edge (fresh homes, 1h synth)", run())
