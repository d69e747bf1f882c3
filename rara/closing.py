"""`Closing`: the one context-manager shape every resource in rara shares.

A store, a sandbox, a session or anything else holding a connection or a process subclasses it
and defines `close`; ``with resource:`` then closes it on the way out, whatever happened inside.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from types import TracebackType
from typing import Protocol, Self

log = logging.getLogger(__name__)


class _Closable(Protocol):
    def close(self) -> None: ...


class Closing:
    """Mixin: ``__enter__`` returns the resource, ``__exit__`` calls its ``close``."""

    def close(self) -> None:
        """Release what the resource holds; safe to call twice."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def close_all(parts: Iterable[_Closable]) -> None:
    """Close each of `parts` in turn; one that fails is logged, not raised (closing must not
    hide the error that got us here, nor leave the others open)."""
    for part in parts:
        try:
            part.close()
        except Exception:
            log.debug("closing %r failed", part, exc_info=True)
