"""A `Sentinel` from a home and its settings, the way the daemon and `rara sentinel test` make
one: the webhook token from the home's secrets, and the configured LLM when
``sentinel.classify_with_llm`` (built like research's, so the missing-key refusal and the reply
cache are the same).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rara.config import Settings
from rara.credentials import load_secrets
from rara.domain.market import Candles
from rara.events import EventStore
from rara.home import Home
from rara.llm.ports import LlmProvider
from rara.sentinel.sentinel import Sentinel, utc_now_ms


def configured_llm(home: Home, settings: Settings) -> LlmProvider | None:
    """The LLM the sentinel classifies with, or None when it uses the rules only."""
    if not settings.sentinel.classify_with_llm:
        return None
    from rara.llm.factory import build_provider  # litellm's adapter is paid for only here

    return build_provider("llm", settings, home, prices=settings.llm.prices)


def build_sentinel(
    home: Home,
    settings: Settings,
    store: EventStore,
    *,
    traded_symbols: Callable[[], Sequence[str]],
    candles_of: Callable[[str], Candles | None] | None = None,
    clock_ms: Callable[[], int] = utc_now_ms,
) -> Sentinel:
    return Sentinel(
        store,
        settings.sentinel,
        traded_symbols=traded_symbols,
        candles_of=candles_of,
        llm=configured_llm(home, settings),
        webhook_token=load_secrets(home).sentinel_webhook_token,
        clock_ms=clock_ms,
    )
