"""The port the loop talks through. Like httpx transports: swap one class, keep the loop.

- `Proposer`: the built-in search, the LLM proposer and its replay all implement it.

The LLM port (`LlmProvider`, `LlmCall`, `BudgetExhausted`) is `rara.llm.ports`: the adapter
package owns it and imports nothing of research. `BudgetExhausted` is re-exported here because
the loop stops on it whichever proposer spent the money.
"""

from __future__ import annotations

from typing import Protocol

from rara.domain.gate import LearningView
from rara.errors import RaraError
from rara.llm.ports import BudgetExhausted, LlmCall
from rara.research.models import Candidate, Proposal, ProposerContext, Reflection

__all__ = ["BudgetExhausted", "Proposer", "ProposerError"]


class ProposerError(RaraError):
    """A proposal could not be produced this iteration (bad reply after retries, timeout...).
    The loop records it as an errored experiment, with ``calls`` (the LLM calls made before it
    failed), and goes on."""

    def __init__(
        self, code: str, message: str, suggestion: str = "", calls: list[LlmCall] | None = None
    ) -> None:
        super().__init__(code, message, suggestion)
        self.calls: list[LlmCall] = list(calls or [])


class Proposer(Protocol):
    """Every step returns the LLM calls it made with its result (`Proposal`, `Reflection`, or a
    `ProposerError`'s ``calls``), so nothing is left to collect afterwards."""

    name: str

    def propose(self, ctx: ProposerContext) -> Proposal:
        """A new candidate for this iteration. Deterministic for (seed, iteration, history)."""
        ...

    def fix(
        self,
        ctx: ProposerContext,
        candidate: Candidate,
        error: str,
        round_no: int,
        max_rounds: int,
    ) -> Proposal | None:
        """A corrected candidate after `error` (the exact static-check, sandbox or look-ahead
        message), or None when this proposer does not repair code. ``round_no`` is
        1..``max_rounds``; the loop's limit is the only cap."""
        ...

    def reflect(self, ctx: ProposerContext, candidate: Candidate, view: LearningView) -> Reflection:
        """A one-line insight for the lesson, from the gate report minus the holdout."""
        ...
