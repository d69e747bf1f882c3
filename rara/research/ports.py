"""The ports the loop talks through. Like httpx transports: swap one class, keep the loop.

- `Proposer`: the built-in search, the LLM proposer and its replay all implement it.
- `LlmProvider`: one chat completion; litellm in production, a replay cache offline, a scripted
  stub in unit tests. The HTTP path is tested against an OpenAI-compatible emulator.
"""

from __future__ import annotations

from typing import Protocol

from rara.domain.gate import LearningView
from rara.errors import RaraError
from rara.research.models import Candidate, LlmCall, ProposerContext


class ProposerError(RaraError):
    """A proposal could not be produced this iteration (bad reply after retries, timeout...).
    The loop records it as an errored experiment and goes on."""


class BudgetExhausted(RaraError):
    """The LLM cost limit was reached; the loop stops cleanly and says so."""


class Proposer(Protocol):
    name: str

    def propose(self, ctx: ProposerContext) -> Candidate:
        """A new candidate for this iteration. Deterministic for (seed, iteration, history)."""
        ...

    def fix(
        self, ctx: ProposerContext, candidate: Candidate, error: str, round_no: int
    ) -> Candidate | None:
        """A corrected candidate after `error` (the exact static-check, sandbox or look-ahead
        message), or None when this proposer does not repair code. round_no is 1..3."""
        ...

    def reflect(self, ctx: ProposerContext, candidate: Candidate, view: LearningView) -> str:
        """A one-line insight for the lesson, from the gate report minus the holdout."""
        ...

    def drain_calls(self) -> list[LlmCall]:
        """LLM calls made since the last drain (empty for proposers that call none)."""
        ...


class LlmReply(Protocol):
    text: str
    call: LlmCall


class LlmProvider(Protocol):
    model: str

    def complete(
        self, messages: list[dict[str, str]], *, purpose: str, json_mode: bool = True
    ) -> LlmReply:
        """One completion. Raises ProposerError on transport failure or timeout and
        BudgetExhausted when the call would pass the cost limit."""
        ...
