"""What a failed LLM call was, said for people: the error code, message and suggestion for a
litellm exception (`classify`), and how long a 429 asks to wait (`retry_after_seconds`).

Codes in `UNUSABLE_CODES` are faults of the setup (a refused or missing key, an unreachable
server): no retry and no later iteration gets past them, so the caller stops the run.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from rara.credentials import LLM_KEY_ENV

RATE_LIMIT_RETRIES = 3  # 429s waited out per call before it fails
# failures no retry or later iteration can get past: the run stops on them (`LlmUnusable`)
UNUSABLE_CODES = frozenset({"llm_auth", "llm_no_key", "llm_unreachable"})
NO_KEY_HINT = f"export {LLM_KEY_ENV} (or set llm.api_key in $RARA_HOME/secrets.toml, mode 0600)"
# (code, message prefix, suggestion) of the failures litellm reports in more than one way
_REFUSED = (
    "llm_auth",
    "the provider refused the request",
    "check the key's access to this model, then resume the run",
)
_UNREACHABLE = (
    "llm_unreachable",
    "could not reach the LLM server",
    "check llm.api_base and that the server is up, then resume the run",
)
_CLASS_PREFIX = re.compile(r"(?:litellm\.)?[A-Z][A-Za-z]*: ")


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header as seconds from now: delay-seconds or an HTTP date (a date in
    the past is 0). None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retry_after_header(exc: Exception) -> str | None:
    for headers in (
        getattr(getattr(exc, "response", None), "headers", None),
        getattr(exc, "litellm_response_headers", None),
    ):
        if headers is not None and hasattr(headers, "get"):
            value = headers.get("retry-after") or headers.get("Retry-After")
            if value is not None:
                return str(value)
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    return seen


def _unreachable(exc: Exception) -> bool:
    """Connection refused, DNS failure, no route: litellm reports these as an
    InternalServerError "Connection error." over the client's own connection error."""
    for e in _chain(exc):
        name = type(e).__name__
        if "Timeout" in name:
            return False
        if name in ("APIConnectionError", "ConnectError") or isinstance(e, ConnectionError):
            return True
    return str(exc).rstrip().endswith("Connection error.")


def _missing_key(exc: Exception) -> bool:
    text = str(exc)
    return "Missing credentials" in text or ("API Key" in text and "no key is set" in text)


def classify(exc: Exception, litellm: Any) -> tuple[str, str, str]:
    """(code, message prefix, suggestion) for a litellm exception; Timeout before connection
    errors, since litellm's Timeout is a kind of APIConnectionError."""
    ex = litellm.exceptions
    timeout = getattr(ex, "Timeout", None)
    if not (isinstance(timeout, type) and isinstance(exc, timeout)):
        if _missing_key(exc):
            return "llm_no_key", "no API key is set for the model", NO_KEY_HINT
        if getattr(exc, "status_code", None) == 403:  # litellm maps a bare 403 to APIError
            code, what, hint = _REFUSED
            return code, f"{what} (403)", hint
        if _unreachable(exc):
            return _UNREACHABLE
    table: list[tuple[str, str, str, str]] = [
        ("Timeout", "llm_timeout", "no reply within the timeout", "raise llm.timeout_s"),
        (
            "AuthenticationError",
            "llm_auth",
            "the provider refused the API key",
            f"check {LLM_KEY_ENV} (or llm.api_key in $RARA_HOME/secrets.toml), then resume the run",
        ),
        ("PermissionDeniedError", *_REFUSED),
        (
            "RateLimitError",
            "llm_rate_limited",
            "rate limited by the provider",
            "wait, or lower the request rate",
        ),
        (
            "NotFoundError",
            "llm_model_not_found",
            "the provider does not know this model",
            "check llm.model and llm.api_base",
        ),
        (
            "ContextWindowExceededError",
            "llm_context_too_long",
            "the prompt is too long",
            "use a model with a larger context",
        ),
        (
            "BadRequestError",
            "llm_bad_request",
            "the provider refused the request",
            "check llm.model and llm.api_base",
        ),
        (
            "InternalServerError",
            "llm_server_error",
            "the provider failed",
            "retry later; the loop goes on",
        ),
        (
            "ServiceUnavailableError",
            "llm_server_error",
            "the provider is unavailable",
            "retry later; the loop goes on",
        ),
        ("APIConnectionError", *_UNREACHABLE),
    ]
    for cls_name, code, what, hint in table:
        cls = getattr(ex, cls_name, None)
        if isinstance(cls, type) and isinstance(exc, cls):
            return code, what, hint
    return "llm_error", "the LLM call failed", "see the message; the loop goes on"


def plain(text: str) -> str:
    """litellm prefixes messages with class names, often twice ("litellm.Timeout: Timeout: ..."):
    keep the part a person needs."""
    while m := _CLASS_PREFIX.match(text):
        text = text[m.end() :]
    return text
