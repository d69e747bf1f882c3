"""The LLM edge: litellm behind the `LlmProvider` port, a reply cache for offline replay, and the
cost budget. Importing this package does not import litellm (that happens on the first call)."""

from rara.llm.budget import Budget, LlmBudgetExhausted
from rara.llm.provider import LitellmProvider, LlmCallFailed, LlmResult, ModelPrice
from rara.llm.replay import ReplayMiss, ReplayProvider

__all__ = [
    "Budget",
    "LitellmProvider",
    "LlmBudgetExhausted",
    "LlmCallFailed",
    "LlmResult",
    "ModelPrice",
    "ReplayMiss",
    "ReplayProvider",
]
