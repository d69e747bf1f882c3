"""What a research run is started with: its options (`RunConfig`, with `parse_duration` for
--max-duration) and the proposer those options name (`make_proposer`): the built-in search, or an
LLM proposer, live or replaying its recorded replies."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rara.config import Settings
from rara.errors import BadInput
from rara.home import Home
from rara.research.ports import Proposer

if TYPE_CHECKING:
    from rara.research.llm_proposer import LlmProposer

PROPOSERS = ("builtin", "llm", "replay")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h)?$")


def parse_duration(text: str | None) -> float | None:
    if text is None:
        return None
    m = _DURATION.match(text.strip())
    if not m:
        raise BadInput("bad_duration", f"{text!r} is not a duration", "use 90s, 15m or 2h")
    return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


@dataclass
class RunConfig:
    exchange: str
    symbol: str
    timeframe: str
    proposer: str
    model: str | None
    seed: int
    iterations: int
    max_cost_usd: float | None
    max_duration_s: float | None
    backend: str
    # bars opening at or after this (UTC ms) are not the run's: the daemon's replay trades them
    as_of_ms: int | None = None
    # candidates proposed, then evaluated together, per step: part of the run's identity, never
    # derived from the workers there are. None: the proposer's own (`default_batch`)
    batch: int | None = None

    def to_dict(self) -> dict[str, Any]:
        # the optional ones only when set: a run without them keeps the id and hash it had
        optional = ("as_of_ms", "batch")
        return {k: v for k, v in self.__dict__.items() if k not in optional or v is not None}

    def effective_batch(self) -> int:
        """The batch the run evaluates: built-in candidates two at a time unless set; an LLM
        proposer learns from every outcome before its next (paid) proposal, so one at a time."""
        if self.batch is not None:
            return self.batch
        return 2 if self.proposer == "builtin" else 1


@dataclass(frozen=True)
class ExecutorChoice:
    """Where a run's candidates are evaluated (`rara.research.executor`); not part of the
    run's identity: the same run gives the same trials on any of them."""

    kind: str = "thread"  # one of executor.EXECUTORS
    scheduler: str | None = None  # dask: the scheduler's address (default cluster.scheduler)
    workers: int = 2  # dask-local: worker processes

    def check(self, batch: int) -> None:
        from rara.research.executor import EXECUTORS

        if self.kind not in EXECUTORS:
            raise BadInput("bad_executor", f"--executor {self.kind}: one of {EXECUTORS}")
        if self.workers < 1:
            raise BadInput("bad_workers", f"--workers {self.workers}: at least one worker")
        if batch < 1:
            raise BadInput("bad_batch", f"--batch {batch}: at least one candidate")


def make_proposer(
    cfg: RunConfig, settings: Settings, n_bars: int, home: Home, *, replay: bool = False
) -> Proposer:
    if cfg.proposer == "builtin":
        from rara.research.builtin import BuiltinProposer

        g = settings.gates.research
        # a lookback must leave bars to trade and to check warm-up on (see validation.lookahead)
        return BuiltinProposer(
            seed=cfg.seed,
            max_lookback=max(50, (n_bars - n_bars // 3) // 2),
            min_sharpe=g.min_sharpe,
            min_trades=g.min_trades,
        )
    return build_llm_proposer(
        "replay" if replay else cfg.proposer,
        settings,
        home,
        model=cfg.model,
        seed=cfg.seed,
        max_cost_usd=cfg.max_cost_usd,
        max_parse_retries=settings.llm.max_parse_retries,
        prices=settings.llm.prices,
    )


def gate_summary(settings: Settings) -> str:
    """The research gate's bar in one line, for the LLM's propose prompt."""
    g = settings.gates.research
    return (
        f"validation Sharpe > {g.min_sharpe:g}, validation max drawdown < {g.max_drawdown:.0%}, "
        f"at least {g.min_trades} validation trades, still profitable at {g.cost_multiplier:g}x "
        f"costs, deflated Sharpe >= {g.min_dsr:g} over all trials"
    )


def build_llm_proposer(
    kind: str,
    settings: Settings,
    home: Home,
    *,
    model: str | None = None,
    seed: int | None = None,
    max_cost_usd: float | None = None,
    max_parse_retries: int = 2,
    **provider_kw: Any,
) -> LlmProposer:
    """The LLM proposer of a run: ``kind`` "llm" (live, recording) or "replay" (the cache only),
    with the run's cost limit, `home`'s reply cache and (unless given) `home`'s key."""
    # imported here: the built-in proposer's runs need none of the LLM edge
    from rara.llm.budget import Budget
    from rara.llm.factory import build_provider
    from rara.research.llm_proposer import LlmProposer

    provider = build_provider(
        kind, settings, home, model=model, seed=seed, budget=Budget(max_cost_usd), **provider_kw
    )
    return LlmProposer(
        provider, max_parse_retries=max_parse_retries, gate_summary=gate_summary(settings)
    )
