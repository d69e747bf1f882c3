"""Building the run's LLM proposer from settings."""

from __future__ import annotations

import pytest

from rara.config import Secrets, Settings
from rara.errors import BadInput
from rara.llm.factory import build_llm_proposer, build_provider, gate_summary
from rara.llm.provider import LitellmProvider
from rara.llm.replay import ReplayProvider
from tests.kit.llm import API_KEY, MODEL


def settings(**llm: object) -> Settings:
    return Settings.model_validate({"llm": llm})


def test_live_provider_gets_settings_seed_and_key(rara_home):
    s = settings(model=MODEL, timeout_s=9.0)
    p = build_provider("llm", s, seed=11, secrets=Secrets(llm_api_key=API_KEY))
    assert isinstance(p, LitellmProvider)
    assert (p.model, p.timeout_s, p.seed) == (MODEL, 9.0, 11)
    assert p.cache is not None and p.cache.directory == rara_home / "cache" / "llm"
    assert API_KEY not in repr(p)


def test_replay_needs_no_key(rara_home):
    p = build_provider("replay", settings(model=MODEL), secrets=Secrets())
    assert isinstance(p, ReplayProvider) and p.model == MODEL


def test_refusals():
    with pytest.raises(BadInput, match="no LLM model"):
        build_provider("llm", settings())
    with pytest.raises(BadInput) as info:
        build_provider("llm", settings(model=MODEL), secrets=Secrets())
    assert info.value.code == "llm_no_key"
    # local servers need no key
    build_provider("llm", settings(model="ollama/llama3"), secrets=Secrets())
    build_provider(
        "llm", settings(model=MODEL, api_base="http://127.0.0.1:1/v1"), secrets=Secrets()
    )


def test_proposer_has_budget_and_gate_summary():
    proposer = build_llm_proposer("replay", settings(model=MODEL), max_cost_usd=0.5)
    assert proposer.provider.budget.max_cost_usd == 0.5  # type: ignore[attr-defined]
    assert proposer.gate_summary == gate_summary(Settings())
    assert "validation Sharpe > 1" in proposer.gate_summary and "30 validation trades" in (
        proposer.gate_summary
    )
