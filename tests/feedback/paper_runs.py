"""Real paper runs for the feedback tests, and the strategy put into the lifecycle the way
research and the daemon put it there: a gate-1 candidate (``research_strategy_candidate``),
moved to paper by the daemon. The shipped Donchian breakout over 30 days of the BTC/USDT 1h
sample trades 5 round trips with a 14.5% drawdown (measured; the tests pin what they rely on)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rara.config import Settings, load_settings
from rara.daemon_settings import FeedbackSettings, PaperGateSettings
from rara.domain.events import ResearchStrategyCandidate
from rara.domain.strategy import strategy_id
from rara.events import EventStore, open_event_store
from rara.feedback.lifecycle import Lifecycle, move
from rara.home import Home
from rara.registry.manifest import read_manifest
from rara.trading.session import open_paper_session
from tests.kit.paper import DONCHIAN

DAY_MS = 86_400_000
START_MS = 1_709_251_200_000  # 2024-03-01 in the shipped BTC/USDT 1h sample
DAYS = 30
RESEARCH_RUN = "run-0123456789ab"
EXPERIMENT = f"{RESEARCH_RUN}-0003"


@dataclass(frozen=True)
class PaperRun:
    run_id: str
    strategy_id: str
    name: str


def paper_run(
    home: Home, strategy: str = DONCHIAN, days: int = DAYS, *, still_trading: bool = False
) -> PaperRun:
    """Replay `strategy` through the paper engine over `days` days of the sample; with
    `still_trading`, stop before the replay's end (the run is not over: more evidence comes)."""
    turns = 0

    def stop_early() -> bool:
        nonlocal turns
        turns += 1
        return still_trading and turns > 8  # a few batches of bars in, before the end

    with open_paper_session(
        home,
        strategy,
        symbol="BTC/USDT",
        timeframe="1h",
        start_ms=START_MS,
        end_ms=START_MS + days * DAY_MS,
    ) as session:
        assert session.run(stop_early) == ("stopped" if still_trading else "feed_ended")
        dep = session.deployment
        return PaperRun(dep.run_id, dep.strategy_id, dep.strategy_name)


def enter_paper(store: EventStore, run: PaperRun) -> Lifecycle:
    """The strategy as a gate-1 candidate of a research run, started on paper by the daemon."""
    store.append(
        ResearchStrategyCandidate(
            experiment_id=EXPERIMENT,
            name=run.name,
            path=f"strategies/promoted/{run.name}",
            stage="paper_candidate",
            trial_ids={},
        ),
        source="research.loop",
        correlation_id=RESEARCH_RUN,
        strategy_id=run.strategy_id,
    )
    lifecycle = Lifecycle(store)
    move(store, lifecycle, run.strategy_id, "paper", reason="started paper trading", by="daemon")
    return lifecycle


def on_paper(home: Home, *, still_trading: bool = False) -> PaperRun:
    """The Donchian breakout put at stage paper, then paper traded (the daemon's order: a run
    from before the strategy's stay at paper is no evidence about it)."""
    directory = Path(DONCHIAN).parent
    manifest = read_manifest(directory)
    sid = strategy_id(Path(DONCHIAN).read_text(encoding="utf-8"), manifest.version)
    with open_event_store(home.state_db) as store:
        enter_paper(store, PaperRun("", sid, manifest.name))
    run = paper_run(home, still_trading=still_trading)
    assert run.strategy_id == sid
    return run


LOOSE = PaperGateSettings(
    min_days=20, min_trades=3, min_sharpe=-5, max_drawdown=0.5, max_tracking_error=0.01
)
STRICT = PaperGateSettings(
    min_days=60, min_trades=10, min_sharpe=1.0, max_drawdown=0.10, max_tracking_error=0.01
)


def settings_with(
    home: Home, gate: PaperGateSettings = LOOSE, feedback: FeedbackSettings | None = None
) -> Settings:
    """The home's settings (the paper run's costs and sandbox) with these gates and limits."""
    base = load_settings(home)
    gates = base.gates.model_copy(update={"paper": gate})
    return base.model_copy(
        update={"gates": gates, "feedback": feedback or FeedbackSettings(retire_drawdown=0.5)}
    )
