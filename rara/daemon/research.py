"""The daemon's research component: research run after research run, within a daily LLM budget
and a share of the CPU, taking up retrain requests first (a demoted strategy's market, with
its lessons: `rara.research.retrain`).

Each run is an ordinary `ResearchSession` (the same one `rara research run` starts), so its
trials, lessons, promotions and run hash are what the CLI's would be. The daemon's current run is
named in ``$RARA_HOME/run/research_run`` before it is recorded: after a kill the next start resumes
that run from its next batch (`ResearchSession.resume`), so no trial is evaluated twice. A stop
asks the run to stop before its next batch (`ResearchStopped`), which leaves it resumable too.

A pause (``research_paused``, from the control API: `rara.research.pause`) is asked before
every run and every batch: while paused the component waits, beating, and starts nothing; a run
under way stops before its next batch, left open, and resumes once research is resumed. The
pause is read from the log, so it holds across a daemon restart.

The CPU share is kept by pausing between runs for ``busy x (1 - share) / share``; the budget by
capping each LLM run at what is left of the UTC day's spend and waiting for the next day when
none is.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rara.config import Settings
from rara.data.catalog import Catalog
from rara.domain.events import ComponentKind
from rara.events import open_event_store
from rara.home import Home
from rara.research.loop import ResearchStopped
from rara.research.outcomes import Progress as LoopProgress
from rara.research.pause import PauseState, ResearchPause
from rara.research.retrain import pending_retrains, retrain_config
from rara.research.run_setup import RunConfig
from rara.research.store import ResearchStore
from rara.supervision import Progress, RestartPolicy

log = logging.getLogger(__name__)
IDLE_BEAT_S = 5.0  # while waiting (budget spent, CPU share), beat this often
PAUSE_POLL_S = 1.0  # while paused, look this often whether research was resumed


class ResearchComponent:
    name = "research"
    kind: ComponentKind = "research"
    restart: RestartPolicy = "always"

    def __init__(
        self, home: Home, settings: Callable[[], Settings], as_of_ms: int | None = None
    ) -> None:
        self.home = home
        self.settings = settings  # read at every run: SIGHUP's new values apply to the next
        self.as_of_ms = as_of_ms
        self.runs_finished = 0

    @property
    def marker(self) -> Path:
        return self.home.root / "run" / "research_run"

    def run(self, progress: Progress, stopping: threading.Event) -> None:
        with open_event_store(self.home.state_db) as store:
            self._run(ResearchPause(store), progress, stopping)

    def _run(self, pause: ResearchPause, progress: Progress, stopping: threading.Event) -> None:
        def should_stop() -> bool:
            return stopping.is_set() or pause.refreshed().paused

        while not stopping.is_set():
            settings = self.settings()
            rs = settings.daemon.research
            if not rs.enabled:
                _wait(stopping, progress, IDLE_BEAT_S, "research disabled")
                continue
            paused = pause.refreshed()
            if paused.paused:
                _wait(stopping, progress, PAUSE_POLL_S, _paused_detail(paused))
                continue
            budget = self._budget_left(settings)
            if budget is not None and budget <= 0:
                _wait(stopping, progress, _until_next_utc_day(), "daily LLM budget spent")
                continue
            t0 = time.monotonic()
            try:
                self._one_run(settings, budget, progress, should_stop)
            except ResearchStopped:
                if stopping.is_set():
                    return
                continue  # paused mid-run: left open, resumed from its next batch later
            busy = time.monotonic() - t0
            share = rs.cpu_share
            _wait(stopping, progress, busy * (1 - share) / share, "pausing (cpu share)")

    def _one_run(
        self,
        settings: Settings,
        budget: float | None,
        progress: Progress,
        should_stop: Callable[[], bool],
    ) -> None:
        from rara.research.session import ResearchSession

        unfinished = self._unfinished_run()
        if unfinished is not None:
            session = ResearchSession.resume(unfinished, settings, self.home, None)
        else:
            cfg = self._config(settings, budget)
            with open_event_store(self.home.state_db) as store:
                pending = pending_retrains(store)
            if pending:  # a demoted strategy's market first, with its lessons
                request = pending[0]
                session = ResearchSession(
                    retrain_config(request, cfg), settings, self.home, retrain=request
                )
            else:
                session = ResearchSession(cfg, settings, self.home)
        # named before the run is recorded: a kill between recording it and its first
        # progress would leave a recorded run no start resumes (and a retrain request it took
        # answered by nothing). A name never recorded is ignored (`_unfinished_run`).
        self._mark(session.run_id)
        marked = session.run_id

        def on_progress(p: LoopProgress) -> None:
            nonlocal marked
            if marked != session.run_id:  # recording settled on another id (`_claim`)
                self._mark(session.run_id)
                marked = session.run_id
            progress.beat(f"research {session.run_id}: {p.tried} tried, {p.promoted} promoted")

        with session:
            summary = session.run(on_progress, should_stop=should_stop)
        self._mark(None)
        self.runs_finished += 1
        progress.beat(
            f"research {summary['run_id']} ended ({summary['stop_reason']}): "
            f"{len(summary.get('promoted', []))} promoted"
        )

    def _config(self, settings: Settings, budget: float | None) -> RunConfig:
        rs = settings.daemon.research
        inst = Catalog(self.home.data_dir).resolve(rs.symbol, rs.timeframe, rs.exchange)
        with ResearchStore(self.home.state_db) as store:
            n = store.count_runs()
        return RunConfig(
            exchange=inst.exchange,
            symbol=inst.symbol,
            timeframe=str(inst.timeframe),
            proposer=rs.proposer,
            model=settings.llm.model if rs.proposer == "llm" else None,
            seed=rs.seed + n,  # a new seed per run, the same on every machine given the state
            iterations=rs.iterations_per_run,
            max_cost_usd=budget,
            max_duration_s=None,
            backend=settings.sandbox.backend,
            as_of_ms=self.as_of_ms,
        )

    def _budget_left(self, settings: Settings) -> float | None:
        """What is left of today's LLM budget; None for the built-in proposer (it costs
        nothing)."""
        rs = settings.daemon.research
        if rs.proposer != "llm":
            return None
        today = datetime.now(UTC).date().isoformat()
        spent = 0.0
        with ResearchStore(self.home.state_db) as store:
            for run in store.runs(limit=1000):
                end = run["end"]
                if str(run["started_at"]).startswith(today) and end is not None:
                    spent += float(end["summary"].get("cost_usd") or 0.0)
        return max(0.0, rs.daily_llm_budget_usd - spent)

    def _unfinished_run(self) -> str | None:
        if not self.marker.exists():
            return None
        run_id = self.marker.read_text(encoding="utf-8").strip()
        with ResearchStore(self.home.state_db) as store:
            if not run_id or store.last_end(run_id) is not None:
                return None
            try:
                store.run_config(run_id)
            except Exception:  # named but never recorded: start afresh
                return None
        return run_id

    def _mark(self, run_id: str | None) -> None:
        if run_id is None:
            self.marker.unlink(missing_ok=True)
            return
        self.marker.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.marker.with_suffix(".tmp")
        tmp.write_text(run_id, encoding="utf-8")
        tmp.replace(self.marker)


def _wait(stopping: threading.Event, progress: Progress, seconds: float, doing: str) -> None:
    """Wait up to `seconds` or until stopping, beating meanwhile: waiting is not being stuck."""
    deadline = time.monotonic() + max(0.0, seconds)
    progress.beat(doing)
    while not stopping.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        stopping.wait(min(left, IDLE_BEAT_S))
        progress.beat(doing)


def _paused_detail(state: PauseState) -> str:
    return f"research paused by {state.by}: {state.reason}"[:200]


def _until_next_utc_day() -> float:
    now = datetime.now(UTC)
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (tomorrow - now).total_seconds()
