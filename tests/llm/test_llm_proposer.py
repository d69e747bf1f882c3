"""LlmProposer over real HTTP: litellm -> the emulator, scripted per purpose."""

from __future__ import annotations

import json

import pytest

from rara.llm.budget import Budget, LlmBudgetExhausted
from rara.research.llm_proposer import (
    LlmProposer,
    ReplyParseError,
    extract_source,
    parse_hypothesis,
)
from rara.research.models import BestSoFar, Candidate, ExperimentOutcome, Hypothesis, Lesson
from rara.research.ports import ProposerError
from tests.emulators.openai_emulator import Reply
from tests.kit.gate_reports import HOLDOUT_MARKS, holdout_checks, view
from tests.kit.llm import API_KEY, GOOD_HYPOTHESIS, GOOD_SOURCE, fenced

MALFORMED = '{"hypothesis": "Buy dips", "rationale": "mean reversion" "family": "mr"}'
LOOKAHEAD_ERROR = (
    "lookahead: signals at window 300 differ from the full run at bar 297 (entries); "
    "a value at bar t uses bars after t"
)


def test_propose_good_strategy(emu, make_provider, ctx):
    emu.add(Reply.of_json(json.loads(GOOD_HYPOTHESIS), purpose="propose"))
    emu.add(Reply(content=fenced(), purpose="code"))
    proposer = LlmProposer(make_provider())
    proposal = proposer.propose(ctx)
    cand = proposal.candidate

    assert cand.source == GOOD_SOURCE
    assert cand.origin == "llm" and cand.params is None
    assert cand.hypothesis.family == "trend_following"
    assert cand.hypothesis.forecast.pass_probability == 0.2
    assert [r.purpose for r in emu.requests] == ["propose", "code"]
    code_req = emu.requests[1]
    assert code_req.body.get("response_format") is None  # code comes as a fenced block
    assert "# Strategy API v1" in code_req.text  # the README is quoted
    assert "SMA(20) crosses above SMA(50)" in code_req.last_user
    assert '"timeframe": "1h"' in code_req.last_user
    calls = proposal.calls  # the calls travel with the proposal
    assert [c.purpose for c in calls] == ["propose", "code"]
    assert all(c.ok and c.cost_usd > 0 for c in calls)


def test_malformed_json_is_retried_with_the_parse_error(emu, make_provider, ctx):
    emu.add(
        Reply(content=MALFORMED, purpose="propose"),
        Reply(content=GOOD_HYPOTHESIS, purpose="propose"),
        Reply(content=fenced(), purpose="code"),
    )
    proposer = LlmProposer(make_provider())
    proposal = proposer.propose(ctx)
    assert proposal.candidate.hypothesis.family == "trend_following"

    with pytest.raises(ReplyParseError) as parse_error:
        parse_hypothesis(MALFORMED)
    retry = emu.requests[1]
    assert retry.purpose == "propose"
    assert str(parse_error.value) in retry.last_user  # the exact parse error was fed back
    assert retry.messages[-2] == {"role": "assistant", "content": MALFORMED}
    assert len(proposal.calls) == 3


def test_schema_error_is_fed_back_and_retries_run_out(emu, make_provider, ctx):
    bad = GOOD_HYPOTHESIS.replace('"pass_probability": 0.2', '"pass_probability": 60')
    emu.add(*[Reply(content=bad, purpose="propose") for _ in range(3)])
    proposer = LlmProposer(make_provider(), max_parse_retries=2)
    with pytest.raises(ProposerError) as info:
        proposer.propose(ctx)
    assert info.value.code == "llm_bad_reply"
    assert "after 3 attempts" in info.value.message
    assert "forecast.pass_probability: Input should be less than or equal to 1" in (
        info.value.message
    )
    assert "forecast.pass_probability" in emu.requests[1].last_user
    assert len(emu.requests) == 3 and len(info.value.calls) == 3


def test_code_reply_without_a_module_is_retried(emu, make_provider, ctx):
    emu.add(
        Reply(content=GOOD_HYPOTHESIS, purpose="propose"),
        Reply(content="I would use two moving averages.", purpose="code"),
        Reply(content=fenced(), purpose="code"),
    )
    cand = LlmProposer(make_provider()).propose(ctx).candidate
    assert cand.source == GOOD_SOURCE
    assert "no module found" in emu.requests[2].last_user


def test_fix_rounds_get_the_exact_error(emu, make_provider, ctx):
    static_error = "lint_failed: line 3: imports are not allowed (import numpy)"
    bad_source = "import numpy\n" + GOOD_SOURCE
    emu.add(
        Reply(content=GOOD_HYPOTHESIS, purpose="propose"),
        Reply(content=fenced(bad_source), purpose="code"),
        Reply.of_module(bad_source, purpose="fix"),  # round 1 does not fix it
        Reply.of_module(GOOD_SOURCE, purpose="fix"),  # round 2 does
    )
    proposer = LlmProposer(make_provider())
    first = proposer.propose(ctx)
    cand = first.candidate
    assert cand.source.startswith("import numpy")
    round1 = proposer.fix(ctx, cand, static_error, 1, 3)
    assert round1 is not None
    fix1 = round1.candidate
    assert fix1.origin == "llm:fix1"
    round2 = proposer.fix(ctx, fix1, static_error, 2, 3)
    assert round2 is not None
    fix2 = round2.candidate
    assert fix2.origin == "llm:fix2" and fix2.source == GOOD_SOURCE
    assert fix2.hypothesis == cand.hypothesis

    fixes = [r for r in emu.requests if r.purpose == "fix"]
    assert len(fixes) == 2
    for req, n in zip(fixes, (1, 2), strict=True):
        assert f"```\n{static_error}\n```" in req.last_user
        assert f"Fix round {n} of 3" in req.last_user
        assert "import numpy" in req.last_user  # the module that failed
        assert "# Strategy API v1" in req.text
    # the loop's limit is the only cap: the prompt states it, the proposer keeps none of its own
    calls = first.calls + round1.calls + round2.calls
    assert [c.purpose for c in calls] == ["propose", "code", "fix", "fix"]


def test_lookahead_error_reaches_the_fix_prompt(emu, make_provider, ctx):
    emu.add(
        Reply(content=GOOD_HYPOTHESIS, purpose="propose"),
        Reply(content=fenced(), purpose="code"),
        Reply(content=fenced(), purpose="fix"),
    )
    proposer = LlmProposer(make_provider())
    proposer.fix(ctx, proposer.propose(ctx).candidate, LOOKAHEAD_ERROR, 1, 3)
    assert LOOKAHEAD_ERROR in emu.requests[-1].last_user


def test_timeout_in_propose_is_a_proposer_error_and_the_call_is_counted(emu, make_provider, ctx):
    emu.add(Reply(content=GOOD_HYPOTHESIS, purpose="propose", delay_s=5))
    proposer = LlmProposer(make_provider(timeout_s=2))
    with pytest.raises(ProposerError) as info:
        proposer.propose(ctx)
    assert info.value.code == "llm_timeout"
    assert "no reply within the timeout (2 s)" in info.value.message
    assert API_KEY not in str(info.value.to_dict())
    calls = info.value.calls
    assert len(calls) == 1 and calls[0].ok is False and calls[0].purpose == "propose"


def test_budget_stop_in_propose_keeps_the_call(emu, make_provider, ctx):
    emu.add(Reply(content=GOOD_HYPOTHESIS, purpose="propose"))
    proposer = LlmProposer(make_provider(budget=Budget(max_cost_usd=1e-9)))
    with pytest.raises(LlmBudgetExhausted) as info:
        proposer.propose(ctx)
    calls = info.value.calls
    assert len(calls) == 1 and calls[0].cost_usd > 1e-9
    assert len(emu.requests) == 1  # the code call was never made


def test_lessons_history_and_best_go_into_the_propose_prompt(emu, make_provider, ctx):
    ctx = ctx.model_copy(
        update={
            "lessons": [
                Lesson(
                    experiment_id="e1",
                    run_id="r1",
                    iteration=1,
                    hypothesis="RSI dip buying",
                    family="mean_reversion",
                    symbol="BTC/USDT",
                    timeframe="1h",
                    regime="trend_up",
                    outcome="rejected",
                    failed_check="min_trades",
                    validation_sharpe=0.4,
                    insight="RSI<20 trades too rarely in trends; loosen to 35",
                )
            ],
            "history": [
                ExperimentOutcome(
                    experiment_id="e-uuid-should-not-appear",
                    iteration=1,
                    family="breakout",
                    origin="llm",
                    params=None,
                    source_sha256="ab" * 32,
                    outcome="rejected",
                    failure="max_drawdown",
                    train_sharpe=1.3,
                    validation_sharpe=0.2,
                    validation_trades=41,
                )
            ],
            "best": BestSoFar(
                experiment_id="e7",
                family="trend_following",
                source=GOOD_SOURCE,
                params=None,
                validation_sharpe=1.12,
            ),
        }
    )
    emu.add(Reply(content=GOOD_HYPOTHESIS, purpose="propose"), Reply(content=fenced()))
    LlmProposer(make_provider(), gate_summary="validation Sharpe > 1.0").propose(ctx)
    prompt = emu.requests[0].last_user
    assert "RSI<20 trades too rarely in trends; loosen to 35" in prompt
    assert "[rejected, failed min_trades] mean_reversion" in prompt
    assert "breakout [llm] rejected (max_drawdown)" in prompt
    assert "trend_following, validation Sharpe 1.12" in prompt
    assert "The gate: validation Sharpe > 1.0" in prompt
    assert "e-uuid-should-not-appear" not in prompt and "run-test" not in prompt


# a verdict on train and validation, then the holdout read (and failed): none of it may reach
# the model
REPORT = view(
    [
        {"name": "floor.sharpe", "passed": True, "value": 1.4, "threshold": 1.0},
        {"name": "min_trades", "value": 12, "threshold": 30, "passed": False},
        *holdout_checks(passed=False),
    ],
    sharpe=1.4,
    trades=12,
)


def test_reflect_sends_no_holdout_and_returns_one_short_line(emu, make_provider, ctx):
    long_line = "Too few trades: " + "widen the RSI band " * 30
    emu.add(
        Reply(content=GOOD_HYPOTHESIS, purpose="propose"),
        Reply(content=fenced(), purpose="code"),
        Reply(content=f"\n- {long_line}\nsecond line ignored", purpose="feedback"),
    )
    best = BestSoFar(
        experiment_id="e7", family="breakout", source="# best module\n", params=None,
        validation_sharpe=1.3,
    )  # fmt: skip
    ctx = ctx.model_copy(update={"best": best})
    proposer = LlmProposer(make_provider())
    cand = proposer.propose(ctx).candidate
    reflection = proposer.reflect(ctx, cand, REPORT)
    insight = reflection.insight
    assert [c.purpose for c in reflection.calls] == ["feedback"]

    assert insight.startswith("Too few trades: widen the RSI band")
    assert len(insight) == 300 and "\n" not in insight
    req = emu.requests[-1]
    assert req.purpose == "feedback"
    assert not [m for m in HOLDOUT_MARKS if m in req.text.lower()]
    assert '"trades": 12' in req.text  # validation numbers are there
    assert "# best module" in req.text and "validation Sharpe 1.30" in req.text


def test_reflect_failure_is_an_insight_not_an_error(emu, make_provider, ctx):
    emu.add(Reply(status=500, purpose="feedback"))
    proposer = LlmProposer(make_provider())
    cand = Candidate(
        hypothesis=Hypothesis(hypothesis="h", rationale="r", family="f"),
        source=GOOD_SOURCE,
        origin="llm",
    )
    reflection = proposer.reflect(ctx, cand, view([]))
    assert reflection.insight == "no insight: the feedback call failed (llm_server_error)"
    [call] = reflection.calls
    assert call.purpose == "feedback" and not call.ok


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (fenced(), GOOD_SOURCE),
        (f"```py\n{GOOD_SOURCE}```", GOOD_SOURCE),
        (f"```python\n# helper\n```\ntext\n```python\n{GOOD_SOURCE}```", GOOD_SOURCE),
        (GOOD_SOURCE, GOOD_SOURCE),
        ('{"source": "def meta():\\n    return {}\\n"}', "def meta():\n    return {}\n"),
    ],
)
def test_extract_source(reply, expected):
    assert extract_source(reply) == expected


@pytest.mark.parametrize("reply", ["", "no code here", "```python\n\n```"])
def test_extract_source_refuses(reply):
    with pytest.raises(ReplyParseError):
        extract_source(reply)


def test_parse_hypothesis_accepts_a_json_fence():
    h = parse_hypothesis(f"```json\n{GOOD_HYPOTHESIS}\n```")
    assert h.family == "trend_following"
    with pytest.raises(ReplyParseError, match="expected one JSON object"):
        parse_hypothesis("[1, 2]")
