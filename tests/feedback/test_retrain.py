"""Research takes up a retrain request with the demoted strategy's lessons (acceptance 5 of the
daemon issue, below the daemon): a real paper run is retired for its drawdown, the request is
pending, a research run takes it and every proposal's context starts with why the strategy was
demoted and the lessons of the experiment and run that produced it; the request is then taken,
and a second run cannot take it again. The LLM proposer's prompt, sent to an OpenAI-compatible
emulator on 127.0.0.1, carries the same lesson text."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from rara.config import Settings
from rara.daemon_settings import FeedbackSettings
from rara.domain.events import ResearchRetrainStarted
from rara.errors import Refused
from rara.events import EventFilter, open_event_store
from rara.feedback.evaluator import FeedbackEvaluator
from rara.feedback.lifecycle import Lifecycle
from rara.home import Home
from rara.research.memory import LessonStore
from rara.research.models import Lesson
from rara.research.retrain import RetrainRequest, pending_retrains, retrain_config
from rara.research.run_setup import RunConfig
from rara.research.session import ResearchSession
from tests.emulators.openai_emulator import OpenAIEmulator, Reply
from tests.feedback.paper_runs import (
    EXPERIMENT,
    RESEARCH_RUN,
    on_paper,
    settings_with,
)
from tests.kit.llm import GOOD_HYPOTHESIS, GOOD_SOURCE, MODEL
from tests.kit.paths import REPO
from tests.kit.proposers import RecordingProposer

OWN_INSIGHT = "Donchian 20-bar breakouts caught the March trend; few trades on validation."
SIBLING_INSIGHT = "RSI reversion lost to costs at 1h."


def lesson(experiment_id: str, iteration: int, family: str, insight: str) -> Lesson:
    return Lesson(
        experiment_id=experiment_id,
        run_id=RESEARCH_RUN,
        iteration=iteration,
        hypothesis=f"{family} on BTC/USDT 1h",
        family=family,
        symbol="BTC/USDT",
        timeframe="1h",
        regime="trend_up",
        outcome="passed_checks" if experiment_id == EXPERIMENT else "rejected",
        validation_sharpe=1.2 if experiment_id == EXPERIMENT else -0.3,
        validation_trades=12,
        insight=insight,
    )


def demoted_strategy(home: Home) -> RetrainRequest:
    """A Donchian breakout that research promoted (its run left lessons), retired on paper for a
    drawdown beyond 10%: the retrain request feedback made."""
    run = on_paper(home)
    with LessonStore(home.state_db) as lessons:
        lessons.record(lesson(f"{RESEARCH_RUN}-0001", 1, "rsi_reversion", SIBLING_INSIGHT))
        lessons.record(lesson(EXPERIMENT, 3, "breakout", OWN_INSIGHT))
    limits = FeedbackSettings(retire_drawdown=0.10)
    with open_event_store(home.state_db) as store:
        lifecycle = Lifecycle(store)
        FeedbackEvaluator(
            home, store, settings_with(home, feedback=limits), lifecycle
        ).evaluate_once()
        pending = pending_retrains(store)
    assert [r.strategy_id for r in pending] == [run.strategy_id]
    return pending[0]


BASE = RunConfig(
    exchange="x",
    symbol="y",
    timeframe="1h",
    proposer="builtin",
    model=None,
    seed=5,
    iterations=2,
    max_cost_usd=None,
    max_duration_s=None,
    backend="subprocess",
)


def test_a_research_run_takes_the_request_with_the_strategys_lessons() -> None:
    home = Home.from_env()
    request = demoted_strategy(home)
    cfg = retrain_config(request, BASE)
    assert (cfg.exchange, cfg.symbol, cfg.timeframe) == ("binance", "BTC/USDT", "1h")
    with ResearchSession(cfg, Settings(), home, retrain=request) as session:
        recorder = RecordingProposer(seed=cfg.seed)
        session.proposer = recorder
        summary = session.run()
    assert recorder.contexts
    for ctx in recorder.contexts:  # every proposal (and reflection) sees them, first
        insights = [ls.insight for ls in ctx.lessons]
        assert insights[0].endswith(f"was demoted from paper: {request.reason}"), insights
        assert insights[1:3] == [OWN_INSIGHT, SIBLING_INSIGHT]
    assert request.reason.startswith("paper drawdown 14.")
    with open_event_store(home.state_db) as store:
        assert pending_retrains(store) == []
        taken = store.query(EventFilter(types=[ResearchRetrainStarted]))
    assert len(taken) == 1 and taken[0].correlation_id == summary["run_id"]
    started = taken[0].typed()
    assert isinstance(started, ResearchRetrainStarted)
    assert started.request_event_id == request.event_id
    # the run resumed (after a crash, or with more iterations) still proposes with them
    with ResearchSession.resume(summary["run_id"], Settings(), home, iterations=3) as resumed:
        recorder = RecordingProposer(seed=cfg.seed)
        resumed.proposer = recorder
        assert resumed.run()["resumed"]
    assert recorder.contexts and all(
        ctx.lessons[0].insight.endswith(request.reason) for ctx in recorder.contexts
    )
    # a second run is refused the request another run took
    with (
        ResearchSession(cfg, Settings(), home, retrain=request) as again,
        pytest.raises(Refused) as refused,
    ):
        again.run()
    assert refused.value.code == "retrain_taken"


# The LLM run in a fresh interpreter, as the daemon's research would run it: litellm leaves
# sockets and an event loop behind in the process that called it.
LLM_RUN = """
import sys
from rara.config import Settings
from rara.events import open_event_store
from rara.home import Home
from rara.research.retrain import pending_retrains
from rara.research.run_setup import RunConfig
from rara.research.session import ResearchSession

model, api_base = sys.argv[1], sys.argv[2]
home = Home.from_env()
with open_event_store(home.state_db) as store:
    request = pending_retrains(store)[0]
base = Settings()
llm = base.llm.model_copy(update={"model": model, "api_base": api_base, "timeout_s": 10.0})
cfg = RunConfig(
    exchange=request.exchange, symbol=request.symbol, timeframe=request.timeframe,
    proposer="llm", model=model, seed=5, iterations=1, max_cost_usd=None,
    max_duration_s=None, backend="subprocess",
)
with ResearchSession(cfg, base.model_copy(update={"llm": llm}), home, retrain=request) as s:
    print(s.run()["run_id"])
"""


def test_the_llm_proposer_is_prompted_with_the_strategys_lessons(emu: OpenAIEmulator) -> None:
    home = Home.from_env()
    request = demoted_strategy(home)
    emu.add(
        Reply(content=GOOD_HYPOTHESIS, purpose="propose"),
        Reply.of_module(GOOD_SOURCE),
        Reply(content="The SMA cross trailed the breakout it replaced.", purpose="feedback"),
    )
    done = subprocess.run(
        [sys.executable, "-c", LLM_RUN, MODEL, emu.url],
        env={**os.environ, "RARA_LLM_API_KEY": "sk-test-feedback-retrain-7c1e"},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    propose = [q for q in emu.requests if q.purpose == "propose"]
    assert propose, [q.purpose for q in emu.requests]
    prompt = propose[0].text
    assert f"was demoted from paper: {request.reason}" in prompt
    assert OWN_INSIGHT in prompt and SIBLING_INSIGHT in prompt
    with open_event_store(home.state_db) as store:
        assert pending_retrains(store) == []
        taken = store.query(EventFilter(types=[ResearchRetrainStarted]))
    assert [e.correlation_id for e in taken] == [done.stdout.strip()]
