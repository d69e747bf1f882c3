"""Record a session over HTTP, then replay it from the cache with no HTTP at all."""

from __future__ import annotations

import json
from typing import Any

import pytest

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
    proposer = LlmProposer(ReplayProvider(cache_dir, MODEL))
    other = ctx.model_copy(update={"symbol": "ETH/USDT"})
    with pytest.raises(ProposerError) as info:  # the proposer's error, caused by the miss
        proposer.propose(other)
    assert isinstance(info.value.__cause__, ReplayMiss) and info.value.__cause__.call is None
    msg = info.value.message
    assert info.value.code == "llm_replay_miss"
    assert "no recorded propose reply from openai/gpt-4o-mini" in msg
    assert "none recorded" in msg and str(cache_dir) in msg
    # a different model is a miss too
    with pytest.raises(ProposerError, match="anthropic/claude"):
        LlmProposer(ReplayProvider(cache_dir, "anthropic/claude-3-5-haiku")).propose(ctx)


def test_replay_runs_out_after_the_recorded_count(recorded, ctx, cache_dir):
    provider = ReplayProvider(cache_dir, MODEL)
    LlmProposer(provider).propose(ctx)
    with pytest.raises(ProposerError, match=r"request 2 .*; 1 recorded"):
        LlmProposer(provider).propose(ctx)  # the first propose prompt was asked once


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
