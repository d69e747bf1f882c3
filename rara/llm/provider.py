"""`LitellmProvider`: one chat completion through litellm, measured, priced, recorded.

Any litellm model string works (``openai/...``, ``anthropic/...``, ``ollama/...``, or an
OpenAI-compatible server through ``api_base``). Every call is made with temperature 0 and, where
the provider takes one, the run's seed; its tokens, latency and cost go into an `LlmCall`, and the
reply (or the failure) is appended to the reply cache so `ReplayProvider` can reproduce the run
offline. The API key is handed to litellm at call time and nowhere else: it is not stored in
`repr`, logs, the cache or any error we raise (provider error texts can echo it; we redact).

A call made for a step of a run (a `CallSite`) is recorded under that step, so a replay finds it
by run, iteration and call number rather than by prompt text (see `rara.llm.cache`).

A 429 is waited out when the provider says how long (``Retry-After``, seconds or an HTTP date)
and that is at most ``max_retry_wait_s``; only the answer that came after is recorded. A refused
or missing key and an unreachable server raise `LlmUnusable` (nothing recorded: they are faults
of the setup, not of the run) so the run stops instead of failing every iteration.

litellm is imported lazily (it takes seconds) and configured to stay offline: see
`load_litellm`.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from rara.credentials import LLM_KEY_ENV
from rara.llm.budget import Budget
from rara.llm.cache import Recorded, ReplyCache, StepNumbers, cache_key
from rara.llm.failures import (
    NO_KEY_HINT,
    RATE_LIMIT_RETRIES,
    UNUSABLE_CODES,
    classify,
    plain,
    retry_after_header,
    retry_after_seconds,
)
from rara.llm.ports import CallSite, LlmCall, LlmError, LlmUnusable

log = logging.getLogger("rara.llm")

# litellm fetches its model price map (and some provider configs) from GitHub at import and on
# first use unless these say "use the copy bundled in the package". We never want run-time
# downloads, so they are forced, not defaulted.
OFFLINE_ENV = (
    "LITELLM_LOCAL_MODEL_COST_MAP",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS",
    "LITELLM_LOCAL_AUTOROUTER_PRESETS",
    "LITELLM_LOCAL_BLOG_POSTS",
    "LITELLM_LOCAL_POLICY_TEMPLATES",
)
QUIET_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "httpx", "httpcore", "openai")
MAX_ERROR_CHARS = 300
# OpenAI/Anthropic "sk-...", Groq "gsk_...", xAI "xai-...", Google "AIza...": long enough that
# ordinary words ("sk-learn") are left alone
_KEYLIKE = re.compile(r"\b(sk|gsk|xai|pk|rk|AIza)[-_]?[A-Za-z0-9_\-]{16,}")

_litellm: Any = None


def load_litellm() -> Any:
    """Import litellm configured for offline, quiet, callback-free use. Idempotent."""
    global _litellm
    if _litellm is not None:
        return _litellm
    if "litellm" in sys.modules:  # imported elsewhere first: its import may have gone online
        log.warning("litellm was imported before rara configured it offline")
    for name in OFFLINE_ENV:
        os.environ[name] = "True"
    # In its default "DEV" mode litellm loads a .env file from the working directory into the
    # environment at import, which could silently swap keys; rara reads secrets itself.
    os.environ.setdefault("LITELLM_MODE", "PRODUCTION")
    import litellm

    litellm.suppress_debug_info = True  # else it print()s "Give Feedback" banners to stdout
    setattr(litellm, "set_verbose", False)  # noqa: B010  (not in its typed exports)
    litellm.turn_off_message_logging = True
    litellm.disable_hf_tokenizer_download = True  # token counting must not fetch tokenizers
    # No success/failure callbacks: nothing about a call leaves the process but the call.
    for attr in (
        "callbacks",
        "success_callback",
        "failure_callback",
        "input_callback",
        "service_callback",
        "_async_success_callback",
        "_async_failure_callback",
    ):
        if isinstance(getattr(litellm, attr, None), list):
            setattr(litellm, attr, [])
    # Their log lines can carry request headers or provider error texts that echo the key; rara
    # logs each call itself, redacted.
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL if "LiteLLM" in name else logging.WARNING)
    _litellm = litellm
    return litellm


def redact(text: str, *secrets: str | None, patterns: bool = True) -> str:
    """Remove every given secret from text and, with ``patterns``, anything shaped like an API
    key (a provider's error may echo a key we were not told about, e.g. from the environment)."""
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return _KEYLIKE.sub(lambda m: m.group(1) + "***", text) if patterns else text


@dataclass(frozen=True)
class ModelPrice:
    """A configured price, for models litellm does not price (or to override it)."""

    input_usd_per_mtok: float
    output_usd_per_mtok: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (
            prompt_tokens * self.input_usd_per_mtok + completion_tokens * self.output_usd_per_mtok
        ) / 1_000_000

    @classmethod
    def coerce(cls, value: Any) -> ModelPrice:
        """From a ModelPrice, a mapping or settings object with ``input_usd_per_mtok`` and
        ``output_usd_per_mtok``, or an (input, output) pair."""
        if isinstance(value, ModelPrice):
            return value
        if isinstance(value, Mapping):
            return cls(float(value["input_usd_per_mtok"]), float(value["output_usd_per_mtok"]))
        if hasattr(value, "input_usd_per_mtok"):
            return cls(float(value.input_usd_per_mtok), float(value.output_usd_per_mtok))
        return cls(float(value[0]), float(value[1]))


@dataclass
class LlmResult:
    """What `complete` returns (the `LlmReply` protocol; not frozen, since the protocol's plain
    attributes are settable)."""

    text: str
    call: LlmCall


class LlmCallFailed(LlmError):
    """A call that did not produce a reply (timeout, refused key, server error...). ``call`` is
    its `LlmCall` (ok=False), so the caller can still account for it."""

    call: LlmCall

    def __init__(self, code: str, message: str, suggestion: str, call: LlmCall) -> None:
        super().__init__(code, message, suggestion, call)


class LitellmProvider:
    """`LlmProvider` over litellm. ``prices`` maps model strings to a configured `ModelPrice`,
    used instead of litellm's price map when given (e.g. a self-hosted model litellm prices
    wrongly or not at all). With neither, the cost is 0 and the `LlmCall` says so in ``error``
    (``ok`` stays True: it is a warning, not a failure)."""

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: SecretStr | str | None = None,
        timeout_s: float = 120.0,
        seed: int | None = None,
        cache_dir: Path | str | None = None,
        budget: Budget | None = None,
        prices: Mapping[str, Any] | None = None,
        max_retry_wait_s: float = 60.0,
    ) -> None:
        self.model = model
        self.max_retry_wait_s = max_retry_wait_s
        self._steps = StepNumbers()
        self.api_base = api_base
        self._api_key = SecretStr(api_key) if isinstance(api_key, str) else api_key
        self.timeout_s = timeout_s
        self.seed = seed
        self.budget = budget if budget is not None else Budget(None)
        self.prices = {k: ModelPrice.coerce(v) for k, v in (prices or {}).items()}
        self.cache = ReplyCache(cache_dir) if cache_dir is not None else None
        self._warned_unpriced = False

    def __repr__(self) -> str:  # never the key
        return f"LitellmProvider(model={self.model!r}, api_base={self.api_base!r})"

    def _secret(self) -> str | None:
        return self._api_key.get_secret_value() if self._api_key is not None else None

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        purpose: str,
        json_mode: bool = True,
        site: CallSite | None = None,
    ) -> LlmResult:
        self.budget.check()
        litellm = load_litellm()
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "timeout": self.timeout_s,
            "temperature": 0,
            "drop_params": True,  # a provider without seed/json mode gets the call without them
            "max_retries": 0,  # one request per call: retries are the loop's decision
            "num_retries": 0,
        }
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self._api_key is not None:
            kwargs["api_key"] = self._secret()
        if self.seed is not None:
            kwargs["seed"] = self.seed
        if json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        key = cache_key(self.model, messages, purpose, json_mode)
        step = self._steps.next(site.run_id, site.iteration) if site is not None else None
        waited = 0
        while True:
            start = time.perf_counter()
            try:
                response = litellm.completion(**kwargs)
                break
            except Exception as exc:
                latency = (time.perf_counter() - start) * 1000
                wait, why = self._rate_limit_wait(exc, litellm, waited)
                if wait is None:
                    failed = self._failed(exc, litellm, purpose, json_mode, key, step, latency, why)
                    raise failed from None
                log.warning("llm %s %s: rate limited, waiting %.1f s", purpose, self.model, wait)
                time.sleep(wait)
                waited += 1
        latency = (time.perf_counter() - start) * 1000

        text = _content(response)
        usage = getattr(response, "usage", None)
        p_tok = int(getattr(usage, "prompt_tokens", 0) or 0)
        c_tok = int(getattr(usage, "completion_tokens", 0) or 0)
        cost, note = self._cost(litellm, p_tok, c_tok)
        call = LlmCall(
            purpose=purpose,
            model=self.model,
            prompt_tokens=p_tok,
            completion_tokens=c_tok,
            latency_ms=round(latency, 3),
            cost_usd=cost,
            error=note,
        )
        self._record(key, step, call, json_mode, text=text, note=note)
        log.debug(
            "llm %s %s: %d+%d tokens, %.0f ms, $%.6f",
            purpose,
            self.model,
            p_tok,
            c_tok,
            latency,
            cost,
        )
        self.budget.charge(call)  # may raise LlmBudgetExhausted, after the call is recorded
        return LlmResult(text=text, call=call)

    def _rate_limit_wait(
        self, exc: Exception, litellm: Any, waited: int
    ) -> tuple[float | None, str | None]:
        """How long to wait before asking again after `exc`, or (None, why not) when the call
        fails now: not a 429, no usable Retry-After, a wait over the limit, or too many 429s."""
        limited = getattr(litellm.exceptions, "RateLimitError", None)
        if not (isinstance(limited, type) and isinstance(exc, limited)):
            return None, None
        if waited >= RATE_LIMIT_RETRIES:
            return None, f"still rate limited after {waited} waits"
        wait = retry_after_seconds(retry_after_header(exc))
        if wait is None:
            return None, "no Retry-After to wait for"
        if wait > self.max_retry_wait_s:
            return None, (
                f"the provider asked to wait {wait:.0f} s, more than "
                f"llm.max_retry_wait_s ({self.max_retry_wait_s:g} s)"
            )
        return wait, None

    def _failed(
        self,
        exc: Exception,
        litellm: Any,
        purpose: str,
        json_mode: bool,
        key: str,
        step: str | None,
        latency: float,
        why: str | None = None,
    ) -> LlmError:
        code, what, hint = classify(exc, litellm)
        detail = redact(plain(str(exc)), self._secret())[:MAX_ERROR_CHARS]
        if code == "llm_no_key" or (code == "llm_auth" and self._api_key is None):
            # the provider's text names its own variable (OPENAI_API_KEY...); rara reads its own
            code, hint = "llm_no_key", NO_KEY_HINT
            where = f" at {self.api_base}" if self.api_base else ""
            message = f"{self.model}{where} needs an API key and {LLM_KEY_ENV} is not set"
        elif code == "llm_timeout":
            message = f"{what} ({self.timeout_s:g} s) from {self.model} [{purpose}]"
        elif code == "llm_unreachable":
            where = self.api_base or "the provider's API"
            message = f"{what} at {where} ({self.model} [{purpose}]): {detail}"
        else:
            message = f"{what} ({self.model} [{purpose}]): {detail}"
        if why:
            message = f"{message} ({why})"
        call = LlmCall(
            purpose=purpose,
            model=self.model,
            latency_ms=round(latency, 3),
            ok=False,
            error=f"{code}: {message}"[:MAX_ERROR_CHARS],
        )
        log.warning("llm %s %s failed: %s", purpose, self.model, message)
        if code in UNUSABLE_CODES:  # a fault of the setup: not part of the run to replay
            return LlmUnusable(code, message, hint, call)
        error = {"code": code, "message": message, "suggestion": hint}
        self._record(key, step, call, json_mode, error=error)
        self.budget.charge(call)
        return LlmCallFailed(code, message, hint, call)

    def _cost(
        self, litellm: Any, prompt_tokens: int, completion_tokens: int
    ) -> tuple[float, str | None]:
        price = self.prices.get(self.model)
        if price is not None:
            return price.cost(prompt_tokens, completion_tokens), None
        try:
            p, c = litellm.cost_per_token(
                model=self.model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
            )
            return float(p) + float(c), None
        except Exception:  # litellm raises for models missing from its map
            note = (
                f"cost unknown: {self.model} is not in litellm's price map and has no "
                "configured price; counted as $0"
            )
            if not self._warned_unpriced:
                log.warning("%s (set llm.prices to count it)", note)
                self._warned_unpriced = True
            return 0.0, note

    def _record(
        self,
        key: str,
        step: str | None,
        call: LlmCall,
        json_mode: bool,
        *,
        text: str = "",
        note: str | None = None,
        error: dict[str, str] | None = None,
    ) -> None:
        if self.cache is None:
            return
        record = Recorded(
            model=call.model,
            purpose=call.purpose,
            json_mode=json_mode,
            text=text,
            prompt_tokens=call.prompt_tokens,
            completion_tokens=call.completion_tokens,
            latency_ms=call.latency_ms,
            cost_usd=call.cost_usd,
            cost_note=note,
            error=error,
            prompt_key=key,
        )
        if step is not None:
            self.cache.put_step(step, record)
        else:
            self.cache.append(key, record)


def _content(response: Any) -> str:
    try:
        content = response.choices[0].message.content
    except (AttributeError, IndexError, KeyError, TypeError):
        return ""
    return content if isinstance(content, str) else ""
