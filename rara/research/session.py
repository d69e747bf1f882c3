"""Assembling a research run from settings: market data, sandbox, gate, stores, proposer; and the
summary a run ends with. The CLI and the daemon both start runs through here."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shlex
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Literal

from rara.backtest import preload
from rara.backtest.engine import BacktestConfig
from rara.backtest.warm import warm_up
from rara.backtest.window import backtest_window
from rara.closing import Closing
from rara.config import Settings
from rara.data.catalog import Catalog
from rara.domain.events import ResearchRunConfig, ResearchRunStarted, StopReason
from rara.domain.gate import GateReport
from rara.domain.market import Instrument
from rara.errors import BadInput
from rara.events.store import EventStore, open_event_store
from rara.home import Home
from rara.registry import Registry
from rara.research.executor import CandidateExecutor, SandboxLimits
from rara.research.executor_threads import ThreadExecutor
from rara.research.loop import ResearchLoop, RunLimits
from rara.research.memory import LessonStore
from rara.research.outcomes import Progress
from rara.research.publish import RunEvents
from rara.research.replay_state import ReplayOrigin, rebuild, restore, scratch_home, snapshot
from rara.research.retrain import (
    RetrainRequest,
    ensure_untaken,
    strategy_lessons,
    take,
    taken_by_run,
)
from rara.research.run_lock import run_lock
from rara.research.run_setup import ExecutorChoice, RunConfig, make_proposer
from rara.research.store import Experiment, ResearchStore
from rara.research.summary import best_section, candidate_lines, next_commands, strategy_file_of
from rara.research.trace import calibration, run_hash
from rara.runner.sandbox import EvaluationRequest, open_sandbox
from rara.validation.gate import ResearchGate
from rara.validation.trials import TrialStore


class ResearchSession(Closing):
    """One research run on one home, its stores, sandbox and proposer open; a context manager
    that closes them (`close`)."""

    def __init__(
        self,
        cfg: RunConfig,
        settings: Settings,
        home: Home,
        run_id: str | None = None,
        *,
        replay: bool = False,
        state: Home | None = None,
        retrain: RetrainRequest | None = None,
        executor: ExecutorChoice | None = None,
    ) -> None:
        # every run backtests: vectorbt's import overlaps with the candles, the stores, the
        # sandbox's start and the first evaluation (the first backtest waits for it)
        preload.start(warm_up)
        self.cfg, self.settings, self.home = cfg, settings, home
        # the retrain request this run answers (`rara.research.retrain`); a resumed run finds
        # its own in the log when it starts
        self.retrain = retrain
        # where the run's state, promotions and reports go: a replay's scratch home, else `home`
        self.state_home = state or home
        self.replay_origin: ReplayOrigin | None = None
        cat = Catalog(home.data_dir)
        self.inst: Instrument = cat.resolve(cfg.symbol, cfg.timeframe, cfg.exchange)
        self.candles = cat.load(self.inst, None, cfg.as_of_ms)
        # Everything opened from here on is closed by `close`, in reverse order; if a later step
        # fails (a proposer that cannot be built), what was already open is closed at once.
        with ExitStack() as stack:
            db = self.state_home.state_db
            self.store = stack.enter_context(ResearchStore(db))
            self.trials = stack.enter_context(TrialStore(db))
            self.lessons = stack.enter_context(LessonStore(db))
            self.events: EventStore = stack.enter_context(open_event_store(db))
            # a fresh run's id is tentative until `run` records it (`_claim`)
            self._fresh = run_id is None
            self.run_id = run_id or self._new_run_id(self.store.count_runs())
            # True once the run is recorded (a resumed one already is): something to resume
            self.started = not self._fresh
            sb = settings.sandbox
            self.sandbox = stack.enter_context(
                open_sandbox(
                    cfg.backend,
                    sb.wall_timeout_s,
                    sb.memory_mb,
                    sb.proof_us_per_bar,
                    sb.cpus,
                    sb.image,
                )
            )
            self.executor = self._open_executor(executor or ExecutorChoice())
            stack.callback(self.executor.close)
            # the gate only judges; the loop runs each candidate in the sandbox
            self.gate = ResearchGate(self.trials, settings.gates.research, settings.backtest)
            self.proposer = make_proposer(cfg, settings, len(self.candles), home, replay=replay)
            self._resources = stack.pop_all()

    def _open_executor(self, choice: ExecutorChoice) -> CandidateExecutor:
        """Where the first evaluations run: the host's sandbox in threads, or a Dask cluster
        (`rara.research.executor_dask`, imported only then)."""
        choice.check(self.cfg.effective_batch())
        sb = self.settings.sandbox
        limits = SandboxLimits(
            backend=self.cfg.backend,
            wall_timeout_s=sb.wall_timeout_s,
            memory_mb=sb.memory_mb,
            proof_us_per_bar=sb.proof_us_per_bar,
            cpus=sb.cpus,
            image=sb.image if self.cfg.backend == "docker" else None,
        )
        if choice.kind == "thread":
            # a thread per candidate of a batch, as before there was a seam
            return ThreadExecutor(self.sandbox, limits, threads=self.cfg.effective_batch())
        from rara.research import executor_dask

        cluster = self.settings.cluster
        if choice.kind == "dask-local":
            return executor_dask.start_local(choice.workers, limits, cluster)
        scheduler = choice.scheduler or cluster.scheduler
        if scheduler is None:
            raise BadInput(
                "no_scheduler",
                "--executor dask needs a scheduler address",
                "pass --scheduler tcp://HOST:8786, or set cluster.scheduler",
            )
        return executor_dask.connect(scheduler, limits, cluster)

    def _new_run_id(self, n: int) -> str:
        # A function of the run's inputs and how many runs came before (`n`): two fresh machines
        # given the same command name the run alike (the determinism check compares them).
        key = json.dumps({**self.cfg.to_dict(), "n": n}, sort_keys=True)
        return "run-" + hashlib.sha256(key.encode()).hexdigest()[:12]

    def _claim(self) -> bool:
        """Record the run, and hold its lock until `close`; True when it is a resume.

        A fresh run's id can be taken between naming and recording: the same command started
        twice at once names both runs alike. The second then takes the next name (as if it had
        started after the first), so two identical runs get two ids, never one silently
        resumed. A resume of a run another process is running is refused."""
        config = self.cfg.to_dict()
        resumed = not self.store.start_run(self.run_id, config)
        n = self.store.count_runs()
        while self._fresh and resumed:
            self.run_id = self._new_run_id(n)
            resumed = not self.store.start_run(self.run_id, config)
            n += 1
        self.started = True
        self._resources.enter_context(run_lock(self.home, self.run_id))
        return resumed

    @classmethod
    def resume(
        cls,
        run_id: str,
        settings: Settings,
        home: Home,
        iterations: int | None,
        executor: ExecutorChoice | None = None,
    ) -> ResearchSession:
        with ResearchStore(home.state_db) as store:
            stored = store.run_config(run_id)
        if iterations is not None:
            stored["iterations"] = iterations
        return cls(RunConfig(**stored), settings, home, run_id=run_id, executor=executor)

    @classmethod
    def replay(
        cls, run_id: str | None, cfg: RunConfig, settings: Settings, home: Home
    ) -> ResearchSession:
        """Run a recorded run again from its recorded replies (`rara.llm.replay`) under its id
        and config, in a scratch home seeded with the state the original started from
        (`rara.research.replay_state`): `home`'s own state is never written. `run_id` None: the
        one recorded run started with `cfg`'s options."""
        from rara.llm.replay import recorded_run, recording

        run_id, recorded = recorded_run(home.llm_cache_dir, run_id, cfg.to_dict())
        start, recorded_hash = recording(home.llm_cache_dir, run_id)
        home_hash = _home_run_hash(home, run_id)
        starting: Literal["recorded", "rebuilt", "missing"] = "recorded"
        if start is None and home_hash is not None:  # recorded before rara kept its state
            start, starting = rebuild(home, run_id), "rebuilt"
        scratch = scratch_home(home, run_id)
        if start is not None:
            restore(start, scratch)
        session = cls(
            RunConfig(**recorded), settings, home, run_id=run_id, replay=True, state=scratch
        )
        session.replay_origin = ReplayOrigin(
            run_id=run_id,
            state_db=str(scratch.state_db),
            starting_state=starting if start is not None else "missing",
            original_run_hash=home_hash or recorded_hash,
        )
        return session

    def run(
        self,
        on_progress: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> dict[str, Any]:
        """Run (or resume) the run to a limit and summarise it. `should_stop` is asked before
        each batch: True raises `ResearchStopped` and leaves the run open to resume."""
        if self.retrain is not None and self._fresh:
            ensure_untaken(self.events, self.retrain)
        resumed = self._claim()
        if self.cfg.proposer == "llm" and self.replay_origin is None:
            from rara.llm.replay import record_run

            # under the id `_claim` settled on; the state it starts from once (a resume must not
            # overwrite it), taken before the run writes anything
            start = None if resumed else snapshot(self.home)
            record_run(self.home.llm_cache_dir, self.run_id, self.cfg.to_dict(), start)
        if not resumed:
            self.events.append(
                ResearchRunStarted(config=ResearchRunConfig(**self.cfg.to_dict())),
                source="research.session",
                correlation_id=self.run_id,
            )
        if self.retrain is not None and not resumed:
            take(self.events, self.retrain, self.run_id)
        elif resumed:
            self.retrain = taken_by_run(self.events, self.run_id) or self.retrain
        RunEvents(self.events, self.run_id).weakened(self.settings.gates.research.weakened())
        loop = ResearchLoop(
            run_id=self.run_id,
            seed=self.cfg.seed,
            inst=self.inst,
            candles=self.candles,
            proposer=self.proposer,
            sandbox=self.sandbox,
            gate=self.gate,
            store=self.store,
            lessons=self.lessons,
            events=self.events,
            registry=Registry(self.state_home),
            limits=RunLimits(
                self.cfg.iterations,
                self.cfg.max_cost_usd,
                self.cfg.max_duration_s,
                batch=self.cfg.effective_batch(),
                should_stop=should_stop,
            ),
            on_progress=on_progress,
            executor=self.executor,
        )
        if self.retrain is not None:
            # the demoted strategy's lessons, first in every proposal's context
            pinned = strategy_lessons(self.events, self.lessons, self.retrain, loop.regime)
            loop.contexts = dataclasses.replace(loop.contexts, pinned=tuple(pinned))
        if on_progress is not None:
            on_progress(loop.progress)
        stop = loop.run()
        summary = self.summary(stop, loop, resumed)
        self.store.end_run(self.run_id, stop, {k: summary[k] for k in ("counts", "cost_usd")})
        if self.replay_origin is not None:
            summary["replay"] = self.replay_origin.judge(summary["run_hash"])
        elif self.cfg.proposer == "llm":
            from rara.llm.replay import record_run_hash

            record_run_hash(self.home.llm_cache_dir, self.run_id, summary["run_hash"])
        return summary

    def summary(self, stop: StopReason, loop: ResearchLoop, resumed: bool) -> dict[str, Any]:
        exps = self.store.of_run(self.run_id)
        counts: dict[str, int] = {}
        for e in exps:
            counts[e.outcome] = counts.get(e.outcome, 0) + 1
        min_trades = self.settings.gates.research.min_trades
        stop_text = {
            "iterations": "reached the iteration limit",
            "max_cost_usd": "reached the LLM cost limit",
            "max_duration": "reached the time limit",
        }[stop]
        return {
            "run_id": self.run_id,
            "resumed": resumed,
            "stop_reason": stop,
            "stopped": stop_text,
            "instrument": self.inst.key,
            "proposer": self.cfg.proposer,
            "seed": self.cfg.seed,
            "experiments": len(exps),
            "counts": counts,
            "rejected_by": loop.progress.rejected,
            "promoted": [e.experiment_id for e in exps if e.outcome == "paper_candidate"],
            "cost_usd": round(sum(e.cost_usd for e in exps), 8),
            "trials": self.trials.count(run_id=self.run_id),
            "candidates": candidate_lines(exps),
            "min_trades": min_trades,
            **best_section(exps, min_trades),
            "calibration": calibration(exps),
            "run_hash": run_hash(self.events, self.run_id),
            "timings_ms": {k: round(v, 1) for k, v in loop.timings.items()},
        }

    def best_report(self, summary: dict[str, Any]) -> Path | None:
        """HTML tear sheet of the run's best candidate on train + validation (not the holdout)."""
        if not summary.get("best"):
            return None
        exp = self.store.get(summary["best"]["experiment_id"])
        if exp is None:
            return None
        split = self.gate.split(self.candles)
        ev = self.sandbox.evaluate(
            EvaluationRequest(source=exp.source, candles=self.candles, params=exp.params)
        )
        if ev.failed:
            return None
        hi = split.validation[1]
        cfg = BacktestConfig.from_settings(self.inst.exchange, self.settings.backtest)
        result, metrics = backtest_window(self.candles, ev.windows[-1], 0, hi, cfg)
        from rara.backtest.report import write_report

        out = self.state_home.reports_dir / self.run_id / f"{exp.experiment_id}.html"
        out.parent.mkdir(parents=True, exist_ok=True)
        # the source beside the tear sheet, for `rara backtest run` (a next command)
        strategy_file_of(out).write_text(exp.source, encoding="utf-8")
        files = write_report(
            out,
            title=f"{exp.family} ({exp.experiment_id}) on {self.inst.key}",
            candles=self.candles.slice(0, hi),
            result=result,
            metrics=metrics,
            meta={
                "meta": ev.meta,
                "params": ev.params,
                "segments": "train + validation (holdout withheld)",
            },
            gate=None if exp.report is None else GateReport.model_validate(exp.report),
        )
        return files.html

    def next_commands(self, summary: dict[str, Any], report: Path | None) -> list[dict[str, str]]:
        """What to try after this run (`rara.research.summary.next_commands`)."""
        best = self.store.get(summary["best"]["experiment_id"]) if summary.get("best") else None
        commands = next_commands(
            summary,
            self.inst,
            self.cfg.iterations,
            self.cfg.model,
            report,
            best,
        )
        if self.replay_origin is None:
            return commands
        # a replay is never resumed, and its experiments are in its scratch home
        scratch = f"RARA_HOME={shlex.quote(str(self.state_home.root))} "
        reads = ("rara research show ", "rara research list")
        return [
            {
                **c,
                "command": scratch + c["command"]
                if c["command"].startswith(reads)
                else c["command"],
            }
            for c in commands
            if " --resume " not in c["command"]
        ]

    def close(self) -> None:
        """Close the sandbox and the stores, the last opened first."""
        self._resources.close()


def experiment_view(e: Experiment, run_experiments: list[Experiment]) -> dict[str, Any]:
    """`research show`: one experiment, plus its run's calibration so far."""
    body = e.model_dump(mode="json")
    body["calibration_of_run"] = calibration(run_experiments)
    return body


def _home_run_hash(home: Home, run_id: str) -> str | None:
    """The run hash of `run_id` from `home`'s own event log; None when the home never ran it."""
    if not home.state_db.exists():
        return None
    with ResearchStore(home.state_db) as store:
        try:
            store.run_config(run_id)
        except BadInput:
            return None
    with open_event_store(home.state_db) as events:
        return run_hash(events, run_id)
