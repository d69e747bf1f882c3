"""Building the LLM proposer of a research run from settings: live (litellm) or replay.

Both read and write the same reply cache, ``$RARA_HOME/cache/llm``: a live run records into it,
a replay answers from it. The budget is charged by either, so a replay under the same
``--max-cost-usd`` stops where the recorded run stopped.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rara.config import Secrets, Settings, load_secrets
from rara.errors import BadInput
from rara.home import Home
from rara.llm.budget import Budget
from rara.llm.provider import LitellmProvider
from rara.llm.replay import ReplayProvider
from rara.research.llm_proposer import LlmProposer

KEYLESS_PREFIXES = ("ollama/", "ollama_chat/")


def reply_cache_dir() -> Path:
    return Home.from_env().llm_cache_dir


def gate_summary(settings: Settings) -> str:
    g = settings.gates.research
    return (
        f"validation Sharpe > {g.min_sharpe:g}, validation max drawdown < {g.max_drawdown:.0%}, "
        f"at least {g.min_trades} validation trades, still profitable at {g.cost_multiplier:g}x "
        f"costs, deflated Sharpe >= {g.min_dsr:g} over all trials"
    )


def build_provider(
    kind: str,
    settings: Settings,
    *,
    model: str | None = None,
    seed: int | None = None,
    budget: Budget | None = None,
    secrets: Secrets | None = None,
    cache_dir: Path | None = None,
    prices: Mapping[str, Any] | None = None,
) -> LitellmProvider | ReplayProvider:
    """``kind`` is "llm" (live, recording) or "replay" (the cache only, no network)."""
    model = model or settings.llm.model
    if not model:
        raise BadInput(
            "llm_not_configured",
            "no LLM model: none was given and llm.model is not set",
            "`rara config set llm.model openai/gpt-4o-mini` and export RARA_LLM_API_KEY",
        )
    directory = cache_dir or reply_cache_dir()
    if kind == "replay":
        return ReplayProvider(directory, model, budget=budget)
    if kind != "llm":
        raise BadInput("bad_proposer", f"unknown LLM proposer {kind!r}", "use llm or replay")
    secrets = secrets if secrets is not None else load_secrets()
    if (
        secrets.llm_api_key is None
        and not settings.llm.api_base
        and not model.startswith(KEYLESS_PREFIXES)
    ):
        # refuse now rather than fail every iteration with the same auth error
        raise BadInput(
            "llm_no_key",
            f"model {model} needs an API key and none is set",
            "export RARA_LLM_API_KEY (or put it in $RARA_HOME/secrets.toml, mode 0600)",
        )
    return LitellmProvider(
        model,
        api_base=settings.llm.api_base,
        api_key=secrets.llm_api_key,
        timeout_s=settings.llm.timeout_s,
        seed=seed,
        cache_dir=directory,
        budget=budget,
        prices=prices,
    )


def build_llm_proposer(
    kind: str,
    settings: Settings,
    *,
    model: str | None = None,
    seed: int | None = None,
    max_cost_usd: float | None = None,
    max_parse_retries: int = 2,
    **provider_kw: Any,
) -> LlmProposer:
    provider = build_provider(
        kind, settings, model=model, seed=seed, budget=Budget(max_cost_usd), **provider_kw
    )
    return LlmProposer(
        provider, max_parse_retries=max_parse_retries, gate_summary=gate_summary(settings)
    )
