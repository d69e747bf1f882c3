"""The error contract every command honours.

A `RaraError` carries a stable machine code, a message for people and a suggestion of what to do
next. The CLI renders it as ``{"error": {"code", "message", "suggestion"}}`` and exits with
``exit_code``: 2 for bad input, 3 for a refused action, 1 for anything else.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_REFUSED = 3
EXIT_SIGINT = 130  # 128 + the signal's number, as shells report a process a signal ended
EXIT_SIGTERM = 143


class RaraError(Exception):
    exit_code = EXIT_FAILURE

    def __init__(self, code: str, message: str, suggestion: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.suggestion = suggestion

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": {"code": self.code, "message": self.message, "suggestion": self.suggestion}
        }


class BadInput(RaraError):
    """The user gave something we cannot use; nothing was changed."""

    exit_code = EXIT_BAD_INPUT


class Refused(RaraError):
    """A check, gate or guard said no; nothing was changed."""

    exit_code = EXIT_REFUSED


class Interrupted(RaraError):
    """A signal (Ctrl-C, SIGTERM) ended a command; `details` say what was under way and how to
    go on (a research run's id and its ``--resume`` command), beside the error."""

    def __init__(
        self,
        message: str,
        suggestion: str,
        *,
        exit_code: int = EXIT_SIGINT,
        details: dict[str, str] | None = None,
    ) -> None:
        super().__init__("interrupted", message, suggestion)
        self.exit_code = exit_code
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), **self.details}


def nearest(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to `word`, for "did you mean" suggestions."""
    import difflib  # only when a suggestion is wanted: every command imports this module

    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.5)
    return matches[0] if matches else None
