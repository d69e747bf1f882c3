"""The LLM edge: litellm behind the `LlmProvider` port, a reply cache for offline replay, and the
cost budget; `rara.llm.ports` is the port its consumers program against (this package imports
none of them). Importing this package does not import litellm (that happens on the first call)."""

from rara.llm.budget import Budget, LlmBudgetExhausted
from rara.llm.ports import BudgetExhausted, LlmCall, LlmError, LlmProvider, LlmReply
from rara.llm.provider import LitellmProvider, LlmCallFailed, LlmResult, ModelPrice
from rara.llm.replay import ReplayMiss, ReplayProvider

__all__ = [
    "Budget",
    "BudgetExhausted",
    "LitellmProvider",
    "LlmBudgetExhausted",
    "LlmCall",
    "LlmCallFailed",
    "LlmError",
    "LlmProvider",
    "LlmReply",
    "LlmResult",
    "ModelPrice",
    "ReplayMiss",
    "ReplayProvider",
]
