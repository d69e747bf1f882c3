"""Prompt files: present, marked with their purpose, filled, and quoting the current API."""

from __future__ import annotations

import pytest

from rara.llm import prompting
from rara.llm.prompting import PURPOSES, QUOTED, TEMPLATE_DIR, packaged, quoted, system_prompt


@pytest.mark.parametrize("name", sorted(QUOTED))
def test_packaged_copy_matches_the_template(name):
    repo_name, packaged_name = QUOTED[name]
    repo = (TEMPLATE_DIR / repo_name).read_text(encoding="utf-8")
    assert packaged(packaged_name) == repo, (
        f"rara/llm/prompts/{packaged_name} is stale: "
        f"cp strategies/template/{repo_name} rara/llm/prompts/{packaged_name}"
    )


@pytest.mark.parametrize("purpose", PURPOSES)
def test_every_prompt_is_marked_and_filled(purpose):
    text = system_prompt(purpose)
    assert text.splitlines()[0] == f"rara-purpose: {purpose}"
    assert not prompting._PLACEHOLDER.search(text)


@pytest.mark.parametrize("purpose", ["code", "fix"])
def test_code_prompts_quote_the_strategy_api(purpose):
    text = system_prompt(purpose)
    assert quoted("strategy_api").strip() in text
    assert "def on_candles(candles, params):" in text
    assert "```python" in text


def test_propose_prompt_asks_for_the_hypothesis_schema():
    text = system_prompt("propose")
    for key in ("hypothesis", "rationale", "family", "validation_sharpe", "pass_probability"):
        assert f'"{key}"' in text
    assert "JSON" in text  # OpenAI's JSON mode requires the word in the prompt


def test_falls_back_to_the_packaged_copy(monkeypatch, tmp_path):
    monkeypatch.setattr(prompting, "TEMPLATE_DIR", tmp_path / "no-repo")
    quoted.cache_clear()
    system_prompt.cache_clear()
    try:
        assert quoted("strategy_api") == packaged("strategy_api.txt")
        assert "# Strategy API v1" in system_prompt("code")
    finally:
        quoted.cache_clear()
        system_prompt.cache_clear()


def test_render_refuses_holes():
    with pytest.raises(KeyError, match="typo"):
        prompting.render("a {{typo}} b", {})
    with pytest.raises(KeyError, match="no prompt for purpose"):
        system_prompt("nope")
