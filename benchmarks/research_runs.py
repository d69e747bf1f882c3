"""What the research benchmarks share: a fresh $RARA_HOME per run, the built-in proposer's run
options on the shipped BTC/USDT 1h sample (what `make run` researches), and the warm loop built
from a session's parts with the batch size the benchmark asks for.

`ResearchSession.run` fixes the batch (2 for the built-in proposer, see rara/research/session.py),
so a benchmark that needs one candidate at a time builds the `ResearchLoop` itself from the
session's stores, sandbox, gate and proposer, as `run` does, and checks the limits it gave.
`LOOP_ARGUMENTS` names what it passes; a test compares it with `ResearchLoop`'s signature so a new
argument of the loop cannot be silently left at its default here.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rara.research.outcomes import Progress
    from rara.research.run_setup import ExecutorChoice, RunConfig

SYMBOL = "BTC/USDT"
TIMEFRAME = "1h"
LOOP_ARGUMENTS = frozenset(
    {
        "run_id",
        "seed",
        "inst",
        "candles",
        "proposer",
        "sandbox",
        "gate",
        "store",
        "lessons",
        "events",
        "registry",
        "limits",
        "on_progress",
        "executor",
    }
)


@contextmanager
def fresh_home(prefix: str = "rara-bench-") -> Iterator[Path]:
    """A new, empty $RARA_HOME for one run (trials, lessons and registry start from nothing);
    the caller's $RARA_HOME is restored after."""
    old = os.environ.get("RARA_HOME")
    with tempfile.TemporaryDirectory(prefix=prefix) as home:
        os.environ["RARA_HOME"] = home
        try:
            yield Path(home)
        finally:
            if old is None:
                os.environ.pop("RARA_HOME", None)
            else:
                os.environ["RARA_HOME"] = old


def builtin_config(seed: int, iterations: int, max_duration_s: float | None = None) -> RunConfig:
    """`rara research run --seed SEED --iterations N` on the shipped BTC/USDT 1h candles, resolved
    against $RARA_HOME as the CLI resolves it."""
    from rara.config import load_settings
    from rara.data.catalog import Catalog
    from rara.home import Home
    from rara.research.run_setup import RunConfig

    home = Home.from_env()
    inst = Catalog(home.data_dir).resolve(SYMBOL, TIMEFRAME)
    return RunConfig(
        exchange=inst.exchange,
        symbol=inst.symbol,
        timeframe=str(inst.timeframe),
        proposer="builtin",
        model=None,
        seed=seed,
        iterations=iterations,
        max_cost_usd=None,
        max_duration_s=max_duration_s,
        backend=load_settings(home).sandbox.backend,
    )


@dataclass
class LoopRun:
    """One warm loop: its wall seconds (the loop alone, not the session's set-up), per-step ms
    summed over the run (the loop's and the gate's), outcome counts and the batch it ran."""

    seconds: float
    iterations: int
    batch: int
    steps: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def per_minute(self) -> float:
        return self.iterations / self.seconds * 60

    @property
    def ms_per_candidate(self) -> float:
        return self.seconds * 1000 / self.iterations


def warm_loop(
    batch: int,
    seed: int,
    iterations: int,
    on_progress: Callable[[Progress], None] | None = None,
    executor: ExecutorChoice | None = None,
) -> LoopRun:
    """The research loop in this process, in a fresh home, `batch` candidates at a time, its
    candidates evaluated by `executor` (default: the host's sandbox in threads)."""
    from rara.config import load_settings
    from rara.home import Home
    from rara.registry import Registry
    from rara.research.loop import ResearchLoop, RunLimits
    from rara.research.session import ResearchSession

    with fresh_home("rara-bench-loop-"):
        home = Home.from_env()
        cfg = builtin_config(seed, iterations)
        with ResearchSession(cfg, load_settings(home), home, executor=executor) as s:
            s.store.start_run(s.run_id, cfg.to_dict())
            arguments: dict[str, Any] = {
                "run_id": s.run_id,
                "seed": cfg.seed,
                "inst": s.inst,
                "candles": s.candles,
                "proposer": s.proposer,
                "sandbox": s.sandbox,
                "gate": s.gate,
                "store": s.store,
                "lessons": s.lessons,
                "events": s.events,
                "registry": Registry(s.state_home),
                "limits": RunLimits(cfg.iterations, batch=batch),
                "on_progress": on_progress,
                "executor": s.executor,
            }
            assert set(arguments) == LOOP_ARGUMENTS
            loop = ResearchLoop(**arguments)
            assert loop.limits.batch == batch, f"the loop runs {loop.limits.batch} at a time"
            t = time.perf_counter()
            stop = loop.run()
            seconds = time.perf_counter() - t
            assert stop == "iterations" and loop.progress.tried == iterations
            steps = {
                **loop.timings,
                **{f"gate.{k}": v for k, v in s.gate.timings.items()},
            }
            counts = {
                "tried": loop.progress.tried,
                "promoted": loop.progress.promoted,
                "duplicates": loop.progress.duplicates,
                "errors": loop.progress.errors,
            }
    return LoopRun(seconds, iterations, batch, steps, counts)
