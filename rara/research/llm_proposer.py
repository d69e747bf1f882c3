"""`LlmProposer`: the `Proposer` that asks an LLM (through any `LlmProvider`).

- propose: a "propose" call returns a `Hypothesis` as JSON, then a "code" call returns the module
  in a ```python block (code inside JSON strings is where models slip: escaping newlines and
  quotes). A reply that does not parse is asked again, up to ``max_parse_retries`` times, with
  the parse error quoted, then it is a `ProposerError`.
- fix: a "fix" call with the exact error text and the module that caused it (rounds 1..N, N the
  loop's limit).
- reflect: a "feedback" call with the gate report minus the holdout (a `LearningView`: the type
  has no field that could hold it) and the best strategy so far; a one-line insight comes back.

The loop records `ProposerError` from propose/fix as an errored experiment and goes on;
`BudgetExhausted` stops the run (carrying the hypothesis when the code call crossed the limit, as
a `Candidate` with no source in ``partial``), and so does `LlmUnusable` (a refused or missing
key, an unreachable server, a replay without the reply: every later call would fail the same
way). reflect does not raise `ProposerError`: a failed feedback call yields an insight that says
so. Every call, failed or not, comes back with the step that made it: in its `Proposal` or
`Reflection`, or in the `ProposerError` / `BudgetExhausted` that ended it.

Every call is made for its run and iteration (a `CallSite` from the context), so the reply cache
records it by step and a replay answers it by step.

Prompts hold no run ids, experiment ids or clock times, only what the model needs, so the same
seed and data give the same prompts and a recorded run replays from the cache.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TypeVar

from pydantic import ValidationError

from rara.domain.gate import LearningView
from rara.llm.ports import (
    BudgetExhausted,
    CallSite,
    LlmCall,
    LlmError,
    LlmProvider,
    LlmUnusable,
)
from rara.llm.prompting import system_prompt
from rara.research.models import (
    LLM_ORIGIN,
    Candidate,
    ExperimentOutcome,
    Hypothesis,
    Lesson,
    Proposal,
    ProposerContext,
    Reflection,
    fix_origin,
)
from rara.research.ports import ProposerError

T = TypeVar("T")
MAX_INSIGHT_CHARS = 300
MAX_ERROR_PROMPT_CHARS = 8000
_FENCE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\r?\n(.*?)```", re.S | re.I)
_JSON_FENCE = re.compile(r"^```[ \t]*(?:json)?[ \t]*\r?\n(.*?)```\s*$", re.S | re.I)


class ReplyParseError(ValueError):
    """A reply that is not what the prompt asked for; the message is fed back to the model."""


def parse_hypothesis(text: str) -> Hypothesis:
    body = text.strip()
    fenced = _JSON_FENCE.match(body)
    if fenced:  # models wrap JSON in a fence even in JSON mode
        body = fenced.group(1).strip()
    if not body:
        raise ReplyParseError("the reply was empty; expected one JSON object")
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ReplyParseError(
            f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(data, dict):
        raise ReplyParseError(f"expected one JSON object, got a JSON {type(data).__name__}")
    try:
        return Hypothesis.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()
        )
        raise ReplyParseError(f"the JSON does not match the schema: {problems}") from None


def extract_source(text: str) -> str:
    """The module from a reply: the ```python block that defines on_candles (else the longest
    block); a bare module or a JSON {"source": ...} is accepted too."""
    blocks: list[str] = [b for b in _FENCE.findall(text) if b.strip()]
    if blocks:
        with_entry = [b for b in blocks if "def on_candles" in b]
        source = (with_entry or sorted(blocks, key=len, reverse=True))[0]
    else:
        stripped = text.strip()
        source = ""
        if stripped.startswith("{"):
            try:
                data = json.loads(stripped)
            except json.JSONDecodeError:
                data = None
            if isinstance(data, dict) and isinstance(data.get("source"), str):
                source = str(data["source"])
        if not source and "def " in stripped and "```" not in stripped:
            source = stripped
    if not source.strip():
        raise ReplyParseError(
            "no module found: reply with the complete module in one ```python fenced block"
        )
    return source.strip("\n") + "\n"


def _num(x: float | int | None, fmt: str = ".2f") -> str:
    return "n/a" if x is None else format(x, fmt)


def _lesson_line(lesson: Lesson) -> str:
    failure = lesson.failure or lesson.failed_check
    failed = f", failed {failure}" if failure else ""
    return (
        f"- [{lesson.outcome}{failed}] {lesson.family} on {lesson.symbol} {lesson.timeframe} in "
        f"{lesson.regime}, validation Sharpe {_num(lesson.validation_sharpe)}: {lesson.insight}"
    )


def _history_line(h: ExperimentOutcome) -> str:
    failure = h.failure or h.failed_check
    failed = f" ({failure})" if failure else ""
    return (
        f"- iteration {h.iteration}: {h.family} [{h.origin}] {h.outcome}{failed}; train Sharpe "
        f"{_num(h.train_sharpe)}, validation Sharpe {_num(h.validation_sharpe)}, "
        f"validation trades {_num(h.validation_trades, 'd')}"
    )


def _site(ctx: ProposerContext) -> CallSite:
    return CallSite(run_id=ctx.run_id, iteration=ctx.iteration)


class LlmProposer:
    name = "llm"

    def __init__(
        self,
        provider: LlmProvider,
        *,
        max_parse_retries: int = 2,
        history_limit: int = 12,
        gate_summary: str | None = None,
    ) -> None:
        self.provider = provider
        self.max_parse_retries = max_parse_retries
        self.history_limit = history_limit
        self.gate_summary = gate_summary

    # --- Proposer ----------------------------------------------------------------------------

    def propose(self, ctx: ProposerContext) -> Proposal:
        calls: list[LlmCall] = []
        site = _site(ctx)
        hypothesis = self._ask_parsed(
            self._messages("propose", self._propose_prompt(ctx)),
            "propose",
            True,
            parse_hypothesis,
            calls,
            site,
        )
        try:
            source = self._ask_parsed(
                self._messages("code", self._code_prompt(ctx, hypothesis)),
                "code",
                False,
                extract_source,
                calls,
                site,
            )
        except BudgetExhausted as exc:  # the hypothesis was paid for: the experiment keeps it
            exc.partial = Candidate(hypothesis=hypothesis, source="", origin=LLM_ORIGIN)
            raise
        candidate = Candidate(hypothesis=hypothesis, source=source, params=None, origin=LLM_ORIGIN)
        return Proposal(candidate=candidate, calls=calls)

    def fix(
        self,
        ctx: ProposerContext,
        candidate: Candidate,
        error: str,
        round_no: int,
        max_rounds: int,
    ) -> Proposal | None:
        if len(error) > MAX_ERROR_PROMPT_CHARS:  # a runaway traceback must not eat the context
            error = error[:MAX_ERROR_PROMPT_CHARS] + "\n... (truncated)"
        user = (
            f"Fix round {round_no} of {max_rounds}. Market: {ctx.symbol} on {ctx.exchange}, "
            f"timeframe {ctx.timeframe}.\n\n"
            f"Hypothesis: {candidate.hypothesis.hypothesis}\n\n"
            f"The module that failed:\n```python\n{candidate.source.rstrip()}\n```\n\n"
            f"The exact error:\n```\n{error.rstrip()}\n```\n\n"
            "Reply with the complete corrected module."
        )
        calls: list[LlmCall] = []
        source = self._ask_parsed(
            self._messages("fix", user), "fix", False, extract_source, calls, _site(ctx)
        )
        fixed = Candidate(
            hypothesis=candidate.hypothesis,
            source=source,
            params=None,  # the fixed module's own defaults; old overrides may not fit it
            origin=fix_origin(LLM_ORIGIN, round_no),
            parent=candidate.parent,
        )
        return Proposal(candidate=fixed, calls=calls)

    def reflect(self, ctx: ProposerContext, candidate: Candidate, view: LearningView) -> Reflection:
        visible = json.dumps(view.model_dump(mode="json"), sort_keys=True, indent=1)
        best = "none yet"
        if ctx.best is not None:
            best = (
                f"{ctx.best.family}, validation Sharpe {_num(ctx.best.validation_sharpe)}:\n"
                f"```python\n{ctx.best.source.rstrip()}\n```"
            )
        user = (
            f"Market: {ctx.symbol} on {ctx.exchange}, {ctx.timeframe}, regime {ctx.regime}.\n\n"
            f"Hypothesis: {candidate.hypothesis.hypothesis}\n"
            f"Family: {candidate.hypothesis.family}\n\n"
            f"The module:\n```python\n{candidate.source.rstrip()}\n```\n\n"
            f"Gate report (train and validation):\n```json\n{visible}\n```\n\n"
            f"Best strategy of the run so far: {best}\n\n"
            "Write the one-line lesson."
        )
        calls: list[LlmCall] = []
        try:
            text = self._ask(self._messages("feedback", user), "feedback", False, calls, _site(ctx))
        except ProposerError as exc:
            return Reflection(
                insight=f"no insight: the feedback call failed ({exc.code})", calls=calls
            )
        for line in text.splitlines():
            line = " ".join(line.strip().lstrip("-*>#").split())
            if line:
                return Reflection(insight=line[:MAX_INSIGHT_CHARS], calls=calls)
        return Reflection(insight="no insight: the feedback reply was empty", calls=calls)

    # --- prompts -----------------------------------------------------------------------------

    @staticmethod
    def _messages(purpose: str, user: str) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": system_prompt(purpose)},
            {"role": "user", "content": user},
        ]

    def _propose_prompt(self, ctx: ProposerContext) -> str:
        parts = [
            f"Market: {ctx.symbol} on {ctx.exchange}, {ctx.timeframe} candles; "
            f"current regime: {ctx.regime}. Iteration {ctx.iteration}.",
        ]
        if self.gate_summary:
            parts.append(f"The gate: {self.gate_summary}")
        if ctx.best is not None:
            parts.append(
                f"Best strategy so far (by validation Sharpe): {ctx.best.family}, "
                f"validation Sharpe {_num(ctx.best.validation_sharpe)}."
            )
        else:
            parts.append("Best strategy so far: none yet.")
        lessons = "\n".join(_lesson_line(ls) for ls in ctx.lessons) or "(none yet)"
        parts.append(f"Lessons from earlier experiments:\n{lessons}")
        recent = ctx.history[-self.history_limit :] if self.history_limit > 0 else []
        hist = "\n".join(_history_line(h) for h in recent) or "(none yet)"
        parts.append(f"Recent experiments, oldest first:\n{hist}")
        parts.append("Propose the next idea as the JSON object described.")
        return "\n\n".join(parts)

    @staticmethod
    def _code_prompt(ctx: ProposerContext, h: Hypothesis) -> str:
        return (
            f"Market: {ctx.symbol} on {ctx.exchange}. Timeframe: {ctx.timeframe} "
            f'(use "timeframe": "{ctx.timeframe}" in meta()).\n\n'
            f"Hypothesis: {h.hypothesis}\n"
            f"Rationale: {h.rationale}\n"
            f"Family: {h.family}\n\n"
            "Write the module."
        )

    # --- calls -------------------------------------------------------------------------------

    def _ask(
        self,
        messages: list[dict[str, str]],
        purpose: str,
        json_mode: bool,
        calls: list[LlmCall],
        site: CallSite,
    ) -> str:
        """One call, appended to ``calls`` (this step's) whatever happens."""
        try:
            reply = self.provider.complete(
                messages, purpose=purpose, json_mode=json_mode, site=site
            )
        except LlmUnusable:  # every later call would fail the same way: the run stops
            raise
        except LlmError as exc:
            # no reply this time: this iteration's step fails, the run goes on
            if exc.call is not None:
                calls.append(exc.call)
            raise ProposerError(exc.code, exc.message, exc.suggestion, calls) from exc
        except BudgetExhausted as exc:  # the call that crossed the limit was made and paid for
            if exc.call is not None:
                calls.append(exc.call)
            exc.calls = list(calls)
            raise
        calls.append(reply.call)
        return reply.text

    def _ask_parsed(
        self,
        messages: list[dict[str, str]],
        purpose: str,
        json_mode: bool,
        parse: Callable[[str], T],
        calls: list[LlmCall],
        site: CallSite,
    ) -> T:
        msgs = list(messages)
        attempts = self.max_parse_retries + 1
        error = ""
        for attempt in range(1, attempts + 1):
            text = self._ask(msgs, purpose, json_mode, calls, site)
            try:
                return parse(text)
            except ReplyParseError as exc:
                error = str(exc)
                if attempt == attempts:
                    break
                msgs = [
                    *msgs,
                    {"role": "assistant", "content": text or "(empty reply)"},
                    {
                        "role": "user",
                        "content": f"Your reply could not be used: {error}\n"
                        "Reply again, in exactly the format asked for, and nothing else.",
                    },
                ]
        raise ProposerError(
            "llm_bad_reply",
            f"the {purpose} reply could not be used after {attempts} attempts: {error}",
            "the loop goes on; a stronger model or a lower temperature may help",
            calls,
        )
