"""The LLM port and the types that cross it: what a consumer (the research loop's LLM proposer,
`rara agent`) needs from a chat model, and nothing of any consumer.

- `LlmProvider`: one chat completion; litellm in production, the reply cache offline, a scripted
  stub in unit tests. The HTTP path is tested against an OpenAI-compatible emulator.
- `LlmReply`: the reply text with its own accounting, an `LlmCall`.
- `LlmError`: a call that produced no reply (timeout, refused key, replay miss...); it carries
  the call it made, so the spend is still counted.
- `BudgetExhausted`: the run's LLM cost limit is reached; the caller stops cleanly.
"""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel

from rara.errors import RaraError

Purpose = Literal["propose", "code", "fix", "feedback", "agent"]


class LlmCall(BaseModel):
    """One LLM round trip, for accounting. Never holds keys or prompt text."""

    purpose: Purpose
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    cost_usd: float = 0.0
    cached: bool = False
    ok: bool = True
    error: str | None = None


class LlmError(RaraError):
    """A call that produced no usable reply. ``call`` is the call made (ok=False), None when none
    was sent."""

    call: LlmCall | None = None

    def __init__(
        self, code: str, message: str, suggestion: str = "", call: LlmCall | None = None
    ) -> None:
        super().__init__(code, message, suggestion)
        self.call = call


class BudgetExhausted(RaraError):
    """The LLM cost limit was reached. ``call`` is the call that crossed it (made and paid for),
    None when the limit was reached before asking. ``calls`` are all the calls of the operation
    it interrupted, that one included: a provider knows only its own call; a consumer that makes
    several for one result (a proposal: hypothesis, then code) puts its earlier ones first."""

    call: LlmCall | None = None
    calls: list[LlmCall]

    def __init__(self, code: str, message: str, suggestion: str = "") -> None:
        super().__init__(code, message, suggestion)
        self.calls = []


class LlmReply(Protocol):
    text: str
    call: LlmCall


class LlmProvider(Protocol):
    model: str

    def complete(
        self, messages: list[dict[str, str]], *, purpose: str, json_mode: bool = True
    ) -> LlmReply:
        """One completion. Raises `LlmError` on transport failure, timeout or a missing reply,
        and `BudgetExhausted` once the call reaches the cost limit."""
        ...
