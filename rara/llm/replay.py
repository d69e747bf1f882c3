"""`ReplayProvider`: answers only from the reply cache, so a run reproduces offline.

The same request (model, messages, purpose, json mode) gets the reply recorded for it; a request
asked n times gets the n recorded replies in order, and a recorded failure replays as the same
failure. Nothing is sent anywhere. The `LlmCall` is the recorded one (tokens, latency, cost) with
``cached=True``, and its recorded cost is charged to the budget, so a replay under the same
cost limit stops where the original run stopped. Two replays are therefore identical.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rara.llm.budget import Budget
from rara.llm.cache import ReplyCache, cache_key
from rara.llm.ports import LlmCall, LlmError
from rara.llm.provider import MAX_ERROR_CHARS, LlmCallFailed, LlmResult


class ReplayMiss(LlmError):
    """The cache has no reply for this request (no call was made: ``call`` is None)."""


class ReplayProvider:
    def __init__(self, cache_dir: Path | str, model: str, *, budget: Budget | None = None) -> None:
        self.model = model
        self.cache_dir = Path(cache_dir)
        self.cache = ReplyCache(self.cache_dir)
        self.budget = budget if budget is not None else Budget(None)
        self._asked: Counter[str] = Counter()

    def __repr__(self) -> str:
        return f"ReplayProvider(model={self.model!r}, cache_dir={str(self.cache_dir)!r})"

    def complete(
        self, messages: list[dict[str, str]], *, purpose: str, json_mode: bool = True
    ) -> LlmResult:
        self.budget.check()
        key = cache_key(self.model, messages, purpose, json_mode)
        nth = self._asked[key]
        records = self.cache.get(key)
        if nth >= len(records):
            recorded = f"{len(records)} recorded" if records else "none recorded"
            raise ReplayMiss(
                "llm_replay_miss",
                f"no recorded {purpose} reply from {self.model} for this prompt "
                f"(request {nth + 1} with key {key[5:17]}; {recorded}) in {self.cache_dir}",
                "replay needs the exact prompts of the recorded run: same model, seed, data "
                "and settings; or run with the live LLM to record it",
            )
        self._asked[key] += 1
        rec = records[nth]
        if rec.error is not None:
            code = rec.error.get("code", "llm_error")
            message = rec.error.get("message", "recorded failure")
            call = LlmCall(
                purpose=purpose,
                model=rec.model,
                latency_ms=rec.latency_ms,
                cached=True,
                ok=False,
                error=f"{code}: {message}"[:MAX_ERROR_CHARS],
            )
            self.budget.charge(call)
            raise LlmCallFailed(code, message, rec.error.get("suggestion", ""), call)
        call = LlmCall(
            purpose=purpose,
            model=rec.model,
            prompt_tokens=rec.prompt_tokens,
            completion_tokens=rec.completion_tokens,
            latency_ms=rec.latency_ms,
            cost_usd=rec.cost_usd,
            cached=True,
            error=rec.cost_note,
        )
        self.budget.charge(call)
        return LlmResult(text=rec.text, call=call)
