"""A proposer that records what it is handed: the built-in proposer behind a recorder, for tests
of what research may learn from (nothing from the holdout)."""

from __future__ import annotations

from rara.domain.gate import LearningView
from rara.research.builtin import BuiltinProposer
from rara.research.models import Candidate, Proposal, ProposerContext, Reflection


class RecordingProposer:
    """The built-in proposer, with everything it is handed (contexts, fix errors, learning views)
    and the insights it gives back kept as JSON text, in order."""

    name = "recording"

    def __init__(self, seed: int, max_lookback: int = 200) -> None:
        self.inner = BuiltinProposer(seed=seed, max_lookback=max_lookback)
        self.seen: list[str] = []
        self.views: list[LearningView] = []
        self.contexts: list[ProposerContext] = []

    def _see(self, ctx: ProposerContext) -> None:
        self.contexts.append(ctx)
        # the wall-clock time a recalled lesson was written at is the one thing that differs
        self.seen.append(ctx.model_dump_json(exclude={"lessons": {"__all__": {"created_at"}}}))

    def propose(self, ctx: ProposerContext) -> Proposal:
        self._see(ctx)
        return self.inner.propose(ctx)

    def fix(
        self,
        ctx: ProposerContext,
        candidate: Candidate,
        error: str,
        round_no: int,
        max_rounds: int,
    ) -> Proposal | None:
        self._see(ctx)
        self.seen.append(f"fix {round_no}/{max_rounds}: {error}")
        return self.inner.fix(ctx, candidate, error, round_no, max_rounds)

    def reflect(self, ctx: ProposerContext, candidate: Candidate, view: LearningView) -> Reflection:
        self._see(ctx)
        self.views.append(view)
        self.seen.append(view.model_dump_json())
        reflection = self.inner.reflect(ctx, candidate, view)
        self.seen.append(reflection.insight)
        return reflection
