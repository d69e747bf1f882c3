"""Building an LLM provider, and the run's LLM proposer, from settings."""

from __future__ import annotations

import pytest

from rara.config import Settings
from rara.credentials import Secrets
from rara.errors import BadInput
from rara.home import Home
from rara.llm.factory import build_provider, needs_api_key
from rara.llm.provider import LitellmProvider
from rara.llm.replay import ReplayProvider
from rara.research.run_setup import build_llm_proposer, gate_summary
from tests.kit.llm import API_KEY, MODEL


def settings(**llm: object) -> Settings:
    return Settings.model_validate({"llm": llm})


def test_live_provider_gets_settings_seed_and_key(rara_home):
    s = settings(model=MODEL, timeout_s=9.0)
    p = build_provider(
        "llm", s, Home(root=rara_home), seed=11, secrets=Secrets(llm_api_key=API_KEY)
    )
    assert isinstance(p, LitellmProvider)
    assert (p.model, p.timeout_s, p.seed) == (MODEL, 9.0, 11)
    assert p.cache is not None and p.cache.directory == rara_home / "cache" / "llm"
    assert API_KEY not in repr(p)


def test_replay_needs_no_key(rara_home):
    p = build_provider("replay", settings(model=MODEL), Home(root=rara_home), secrets=Secrets())
    assert isinstance(p, ReplayProvider) and p.model == MODEL


def test_refusals(tmp_path):
    home = Home(root=tmp_path / "home")
    with pytest.raises(BadInput, match="no LLM model"):
        build_provider("llm", settings(), home)
    with pytest.raises(BadInput) as info:
        build_provider("llm", settings(model=MODEL), home, secrets=Secrets())
    assert info.value.code == "llm_no_key"
    # local servers need no key
    build_provider("llm", settings(model="ollama/llama3"), home, secrets=Secrets())
    build_provider(
        "llm", settings(model=MODEL, api_base="http://127.0.0.1:1/v1"), home, secrets=Secrets()
    )


def test_one_keyless_rule():
    """The factory and `rara validate` ask the same question of a model."""
    assert not needs_api_key("ollama/llama3", None) and not needs_api_key("ollama_chat/x", None)
    assert not needs_api_key(MODEL, "http://127.0.0.1:1/v1")
    assert needs_api_key(MODEL, None) and needs_api_key("anthropic/claude-3-5-haiku", "")


def test_proposer_has_budget_and_gate_summary(tmp_path):
    home = Home(root=tmp_path / "home")
    proposer = build_llm_proposer("replay", settings(model=MODEL), home, max_cost_usd=0.5)
    assert proposer.provider.budget.max_cost_usd == 0.5  # type: ignore[attr-defined]
    assert proposer.gate_summary == gate_summary(Settings())
    assert "validation Sharpe > 1" in proposer.gate_summary and "30 validation trades" in (
        proposer.gate_summary
    )
