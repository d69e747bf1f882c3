"""`ReplayProvider`: answers only from the reply cache, so a run reproduces offline.

A call made for a step of a run (a `CallSite`) gets the reply recorded for that run, iteration and
call number, whatever its prompt: two runs with the same prompts, or runs replayed in any order or
in another home, each get their own replies. A call outside a run (`rara agent`) is looked up by
its request (model, messages, purpose, json mode): asked n times, it gets the n recorded replies in
order. A recorded failure replays as the same failure; nothing is sent anywhere.

A request with no recorded reply is a `ReplayMiss`: bad input to the whole replay (exit 2), which
stops the run at once instead of being recorded as one failed experiment.

The `LlmCall` is the recorded one (tokens, latency, cost) with ``cached=True``, and its recorded
cost is charged to the budget, so a replay under the same cost limit stops where the original run
stopped. Two replays are therefore identical.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

from rara.errors import EXIT_BAD_INPUT, BadInput
from rara.llm.budget import Budget
from rara.llm.cache import Recorded, ReplyCache, StepNumbers, cache_key
from rara.llm.ports import CallSite, LlmCall, LlmUnusable
from rara.llm.provider import MAX_ERROR_CHARS, LlmCallFailed, LlmResult

log = logging.getLogger("rara.llm")
MISS_HINT = (
    "replay a run recorded into this cache ($RARA_HOME/cache/llm) with the code and data it was "
    "recorded with, or run with --proposer llm to record it"
)


class ReplayMiss(LlmUnusable):
    """The cache has no reply for this request (no call was made: ``call`` is None)."""

    exit_code = EXIT_BAD_INPUT


def recorded_run(
    cache_dir: Path | str, run_id: str | None, config: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The id and config of the recorded run a replay reproduces: `run_id` when given (it must
    be in the cache), else the one run recorded with `config` (compared without its proposer)."""
    with ReplyCache(cache_dir) as cache:
        runs = cache.runs()
    if run_id is not None:
        if run_id not in runs:
            known = ", ".join(sorted(runs)) or "none"
            raise BadInput(
                "llm_replay_miss",
                f"run {run_id} was not recorded in {cache_dir} (recorded runs: {known})",
                MISS_HINT,
            )
        return run_id, runs[run_id]

    def same(recorded: dict[str, Any]) -> bool:
        mine = {k: v for k, v in config.items() if k != "proposer"}
        return {k: v for k, v in recorded.items() if k != "proposer"} == mine

    matching = sorted(r for r, cfg in runs.items() if same(cfg))
    if len(matching) == 1:
        return matching[0], runs[matching[0]]
    if not matching:
        raise BadInput(
            "llm_replay_miss",
            f"no run recorded in {cache_dir} was started with these options",
            "pass --replay RUN_ID (`rara research list --runs` in the recording home), or "
            + MISS_HINT,
        )
    raise BadInput(
        "llm_replay_ambiguous",
        f"{len(matching)} recorded runs were started with these options: {', '.join(matching)}",
        "pass --replay RUN_ID to say which one to replay",
    )


def record_run(
    cache_dir: Path | str, run_id: str, config: dict[str, Any], start: bytes | None = None
) -> None:
    """Keep a live run's config beside its replies, so it can be replayed where it never ran, and
    (when it starts, not when it resumes) the research state it started from."""
    with ReplyCache(cache_dir) as cache:
        cache.put_run(run_id, config)
        if start is not None:
            cache.put_start(run_id, start)


def record_run_hash(cache_dir: Path | str, run_id: str, run_hash: str) -> None:
    """Keep the run hash a live run ended with, for a replay to compare against."""
    with ReplyCache(cache_dir) as cache:
        cache.put_run_hash(run_id, run_hash)


def recording(cache_dir: Path | str, run_id: str) -> tuple[bytes | None, str | None]:
    """(the starting state, the run hash) recorded with run `run_id`; None where not recorded
    (a run recorded before rara kept them, or one that never ended)."""
    with ReplyCache(cache_dir) as cache:
        return cache.get_start(run_id), cache.get_run_hash(run_id)


class ReplayProvider:
    def __init__(self, cache_dir: Path | str, model: str, *, budget: Budget | None = None) -> None:
        self.model = model
        self.cache_dir = Path(cache_dir)
        self.cache = ReplyCache(self.cache_dir)
        self.budget = budget if budget is not None else Budget(None)
        self._asked: Counter[str] = Counter()
        self._steps = StepNumbers()

    def __repr__(self) -> str:
        return f"ReplayProvider(model={self.model!r}, cache_dir={str(self.cache_dir)!r})"

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        purpose: str,
        json_mode: bool = True,
        site: CallSite | None = None,
    ) -> LlmResult:
        self.budget.check()
        key = cache_key(self.model, messages, purpose, json_mode)
        if site is not None:
            rec = self._by_step(site, key, purpose)
        else:
            rec = self._by_prompt(key, purpose)
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

    def _by_step(self, site: CallSite, key: str, purpose: str) -> Recorded:
        step = self._steps.next(site.run_id, site.iteration)
        number = step.rsplit("/", 1)[1]
        where = f"run {site.run_id}, iteration {site.iteration}, call {number}"
        rec = self.cache.get_step(step)
        if rec is None:
            raise ReplayMiss(
                "llm_replay_miss",
                f"no recorded reply for {where} (a {purpose} call to {self.model}) in "
                f"{self.cache_dir}",
                MISS_HINT,
            )
        if rec.purpose != purpose or rec.model != self.model:
            raise ReplayMiss(
                "llm_replay_miss",
                f"the replay diverged at {where}: it asks a {purpose} call to {self.model}, the "
                f"recording holds a {rec.purpose} call to {rec.model}",
                MISS_HINT,
            )
        if rec.prompt_key is not None and rec.prompt_key != key:
            log.warning("replay: the %s prompt at %s differs from the recorded one", purpose, where)
        return rec

    def _by_prompt(self, key: str, purpose: str) -> Recorded:
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
        return records[nth]
