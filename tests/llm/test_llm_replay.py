"""Record a session over HTTP, then replay it from the cache with no HTTP at all."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rara.errors import EXIT_BAD_INPUT
from rara.llm.budget import Budget, LlmBudgetExhausted
from rara.llm.cache import ReplyCache
from rara.llm.replay import ReplayMiss, ReplayProvider
from rara.research.llm_proposer import LlmProposer
from rara.research.ports import ProposerError
from tests.emulators.openai_emulator import Reply
from tests.kit.gate_reports import view
from tests.kit.llm import API_KEY, GOOD_HYPOTHESIS, GOOD_SOURCE, MODEL, fenced, files_text

MALFORMED = '{"hypothesis": "x",'
ERROR = "runtime_error: ValueError: ta.sma: n must be between 1 and 100000, got 0 (line 17)"


def session(proposer: LlmProposer, ctx: Any) -> dict[str, Any]:
    """One iteration's worth of proposer traffic: propose (with a parse retry), a fix, a reflect,
    and a second iteration that times out."""
    out: dict[str, Any] = {}
    proposal = proposer.propose(ctx)
    fix = proposer.fix(ctx, proposal.candidate, ERROR, 1, 3)
    assert fix is not None
    cand, fixed = proposal.candidate, fix.candidate
    out["candidates"] = [cand.model_dump(mode="json"), fixed.model_dump(mode="json")]
    reflection = proposer.reflect(ctx, fixed, view([], sharpe=0.5, trades=40))
    out["insight"] = reflection.insight
    calls = proposal.calls + fix.calls + reflection.calls
    try:
        proposer.propose(ctx.model_copy(update={"iteration": ctx.iteration + 1}))
    except ProposerError as exc:
        out["error"] = exc.to_dict()
        calls += exc.calls
    out["calls"] = [c.model_dump(mode="json") for c in calls]
    return out


SCRIPT = [
    Reply(content=MALFORMED, purpose="propose"),
    Reply(content=GOOD_HYPOTHESIS, purpose="propose"),
    Reply(content=fenced(GOOD_SOURCE.replace('"fast": 20', '"fast": 0')), purpose="code"),
    Reply(content=fenced(), purpose="fix"),
    Reply(content="Crossovers lag; add a trend filter.", purpose="feedback"),
    Reply(content=GOOD_HYPOTHESIS, purpose="propose", delay_s=4),
]


@pytest.fixture
def recorded(emu, make_provider, ctx, cache_dir):
    emu.add(*SCRIPT)
    live = session(LlmProposer(make_provider(timeout_s=1)), ctx)
    assert live["error"]["error"]["code"] == "llm_timeout"
    assert len(emu.requests) == 6
    return live


def test_replay_reproduces_the_session_with_zero_requests(recorded, emu, ctx, cache_dir):
    before = len(emu.requests)
    first = session(LlmProposer(ReplayProvider(cache_dir, MODEL)), ctx)
    second = session(LlmProposer(ReplayProvider(cache_dir, MODEL)), ctx)
    assert len(emu.requests) == before  # nothing was sent

    assert first["candidates"] == recorded["candidates"]
    assert first["insight"] == recorded["insight"] == "Crossovers lag; add a trend filter."
    assert first["error"] == recorded["error"]
    # the recorded accounting comes back, marked cached
    live_calls = [{**c, "cached": True} for c in recorded["calls"]]
    assert first["calls"] == live_calls
    # and two replays are byte-for-byte the same
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert API_KEY.encode() not in files_text(cache_dir)


def test_replay_miss_names_what_is_missing(recorded, ctx, cache_dir):
    """A miss is not one failed experiment: it stops the replay (bad input, exit 2)."""
    proposer = LlmProposer(ReplayProvider(cache_dir, MODEL))
    other = ctx.model_copy(update={"run_id": "run-never-recorded"})
    with pytest.raises(ReplayMiss) as info:
        proposer.propose(other)
    miss = info.value
    assert miss.code == "llm_replay_miss" and miss.call is None
    assert miss.exit_code == EXIT_BAD_INPUT
    assert "run run-never-recorded, iteration 3, call 0" in miss.message
    assert "propose call to openai/gpt-4o-mini" in miss.message and str(cache_dir) in miss.message
    # a different model at a recorded step is a miss too
    with pytest.raises(ReplayMiss, match="anthropic/claude"):
        LlmProposer(ReplayProvider(cache_dir, "anthropic/claude-3-5-haiku")).propose(ctx)


def test_replay_that_diverges_says_where(recorded, ctx, cache_dir):
    provider = ReplayProvider(cache_dir, MODEL)
    LlmProposer(provider).propose(ctx)  # calls 0-2: two propose, one code
    with pytest.raises(ReplayMiss, match=r"diverged at run run-test, iteration 3, call 3"):
        LlmProposer(provider).propose(ctx)  # call 3 was recorded as a fix


def test_runs_with_identical_prompts_replay_their_own_replies(emu, make_provider, ctx, cache_dir):
    """Two runs ask the same prompts and get different replies; replayed in reverse order (B
    first), each gets the replies recorded for it, not the first recorded for the prompt."""
    families = {"run-a": "trend_following", "run-b": "mean_reversion"}
    for run_id, family in families.items():
        emu.add(
            Reply(content=GOOD_HYPOTHESIS.replace("trend_following", family), purpose="propose"),
            Reply(content=fenced(), purpose="code"),
        )
        LlmProposer(make_provider()).propose(ctx.model_copy(update={"run_id": run_id}))
    prompts = {q.last_user for q in emu.requests if q.purpose == "propose"}
    assert len(prompts) == 1  # the same prompt both times
    for run_id in ("run-b", "run-a"):
        replay = LlmProposer(ReplayProvider(cache_dir, MODEL))
        proposal = replay.propose(ctx.model_copy(update={"run_id": run_id}))
        assert proposal.candidate.hypothesis.family == families[run_id]


def test_replay_charges_the_recorded_cost_to_the_budget(recorded, ctx, cache_dir):
    cost = sum(c["cost_usd"] for c in recorded["calls"][:2])  # malformed + good propose
    provider = ReplayProvider(cache_dir, MODEL, budget=Budget(max_cost_usd=cost * 0.999))
    proposer = LlmProposer(provider)
    with pytest.raises(LlmBudgetExhausted) as info:
        proposer.propose(ctx)
    calls = info.value.calls
    assert len(calls) == 2 and all(c.cached for c in calls)


def test_cache_refuses_pickled_entries(cache_dir):
    cache = ReplyCache(cache_dir)
    cache._cache.set("llm1:evil", {"a": "pickled dict"})
    with pytest.raises(Exception, match="did not write"):
        cache.get("llm1:evil")
