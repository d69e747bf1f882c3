"""The LLM port and the types that cross it: what a consumer (the research loop's LLM proposer,
`rara agent`) needs from a chat model, and nothing of any consumer.

- `LlmProvider`: one chat completion; litellm in production, the reply cache offline, a scripted
  stub in unit tests. The HTTP path is tested against an OpenAI-compatible emulator.
- `LlmReply`: the reply text with its own accounting, an `LlmCall`.
- `LlmError`: a call that produced no reply (timeout, server error...); it carries the call it
  made, so the spend is still counted. `LlmUnusable`, one of them, says no call can succeed until
  the user acts (a refused or missing key, an unreachable server, a replay without the reply), so
  a run stops on it instead of failing every iteration the same way.
- `BudgetExhausted`: the run's LLM cost limit is reached; the caller stops cleanly.
- `CallSite`: which run and iteration a call belongs to; a provider numbers the calls of one
  site, and the reply cache records and replays each by (run, iteration, number).
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from rara.errors import RaraError

Purpose = Literal["propose", "code", "fix", "feedback", "agent", "sentinel"]


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


class LlmUnusable(LlmError):
    """No call can succeed until the user acts: the key is refused or missing, the server cannot
    be reached, or a replay has no recorded reply. A run stops with this error (exit non-zero)
    rather than recording the same failure for every iteration."""


class CallSite(BaseModel):
    """The step of a run a call is made for: the run and its iteration. A provider numbers the
    calls of one site 0, 1, 2... in the order they are made (an iteration's calls are sequential:
    propose, code, parse retries, fix rounds, feedback)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str
    iteration: int


class BudgetExhausted(RaraError):
    """The LLM cost limit was reached. ``call`` is the call that crossed it (made and paid for),
    None when the limit was reached before asking. ``calls`` are all the calls of the operation
    it interrupted, that one included: a provider knows only its own call; a consumer that makes
    several for one result (a proposal: hypothesis, then code) puts its earlier ones first.
    ``partial`` is what the interrupted operation had produced before the call (a consumer's own
    type, e.g. a proposal's hypothesis; the LLM edge never reads it), so it is not lost."""

    call: LlmCall | None = None
    calls: list[LlmCall]
    partial: Any = None

    def __init__(self, code: str, message: str, suggestion: str = "") -> None:
        super().__init__(code, message, suggestion)
        self.calls = []


class LlmReply(Protocol):
    text: str
    call: LlmCall


class LlmProvider(Protocol):
    model: str

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        purpose: str,
        json_mode: bool = True,
        site: CallSite | None = None,
    ) -> LlmReply:
        """One completion, for `site` when it is part of a run (recorded and replayed by it).
        Raises `LlmUnusable` when no call can succeed, `LlmError` on any other failure (timeout,
        server error), and `BudgetExhausted` once the call reaches the cost limit."""
        ...
