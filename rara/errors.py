"""The error contract every command honours.

A `RaraError` carries a stable machine code, a message for people and a suggestion of what to do
next. The CLI renders it as ``{"error": {"code", "message", "suggestion"}}`` and exits with
``exit_code``: 2 for bad input, 3 for a refused action, 1 for anything else.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_REFUSED = 3


class RaraError(Exception):
    exit_code = EXIT_FAILURE

    def __init__(self, code: str, message: str, suggestion: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.suggestion = suggestion

    def to_dict(self) -> dict[str, dict[str, str]]:
        return {
            "error": {"code": self.code, "message": self.message, "suggestion": self.suggestion}
        }


class BadInput(RaraError):
    """The user gave something we cannot use; nothing was changed."""

    exit_code = EXIT_BAD_INPUT


class Refused(RaraError):
    """A check, gate or guard said no; nothing was changed."""

    exit_code = EXIT_REFUSED


def nearest(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to `word`, for "did you mean" suggestions."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.5)
    return matches[0] if matches else None
