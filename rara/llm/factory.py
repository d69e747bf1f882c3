"""Building an LLM provider from settings: live (litellm) or replay. The research run's proposer
and `rara agent` both get theirs here, so prices, the missing-key refusal and the cache path are
the same for every caller.

Both providers read and write the same reply cache, the home's ``cache/llm``
(`Home.llm_cache_dir`): a live run records into it, a replay answers from it. The budget is
charged by either, so a replay under the same cost limit stops where the recorded run stopped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rara.config import Settings
from rara.credentials import LLM_KEY_ENV, Secrets, load_secrets
from rara.errors import BadInput
from rara.home import Home
from rara.llm.budget import Budget
from rara.llm.failures import NO_KEY_HINT
from rara.llm.provider import LitellmProvider
from rara.llm.replay import ReplayProvider

# litellm model strings served locally, which need no API key
KEYLESS_PREFIXES = ("ollama/", "ollama_chat/")


def needs_api_key(model: str, api_base: str | None) -> bool:
    """Whether calls to this model need an API key: not for a local model or a server of our own
    (an ``api_base``)."""
    return not api_base and not model.startswith(KEYLESS_PREFIXES)


def build_provider(
    kind: str,
    settings: Settings,
    home: Home,
    *,
    model: str | None = None,
    seed: int | None = None,
    budget: Budget | None = None,
    secrets: Secrets | None = None,
    prices: Mapping[str, Any] | None = None,
) -> LitellmProvider | ReplayProvider:
    """``kind`` is "llm" (live, recording) or "replay" (the cache only, no network). The reply
    cache is `home`'s; the key comes from `secrets`, else from `home`'s secrets."""
    model = model or settings.llm.model
    if not model:
        raise BadInput(
            "llm_not_configured",
            "no LLM model: none was given and llm.model is not set",
            f"`rara config set llm.model openai/gpt-4o-mini` and export {LLM_KEY_ENV}",
        )
    directory = home.llm_cache_dir
    if kind == "replay":
        return ReplayProvider(directory, model, budget=budget)
    if kind != "llm":
        raise BadInput("bad_proposer", f"unknown LLM proposer {kind!r}", "use llm or replay")
    secrets = secrets if secrets is not None else load_secrets(home)
    if secrets.llm_api_key is None and needs_api_key(model, settings.llm.api_base):
        # refuse now rather than fail every iteration with the same auth error
        raise BadInput(
            "llm_no_key",
            f"model {model} needs an API key and {LLM_KEY_ENV} is not set",
            NO_KEY_HINT,
        )
    return LitellmProvider(
        model,
        api_base=settings.llm.api_base,
        api_key=secrets.llm_api_key,
        timeout_s=settings.llm.timeout_s,
        max_retry_wait_s=settings.llm.max_retry_wait_s,
        seed=seed,
        cache_dir=directory,
        budget=budget,
        prices=prices,
    )
