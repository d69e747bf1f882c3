"""The daemon's native heap. glibc keeps what C code frees (numpy buffers, SQLite pages, the
JIT's scratch) in per-thread arenas and gives little of it back, so a process that runs for weeks
with threads coming and going (a research run's pool, trading engines starting and stopping)
grows in resident memory without holding more: in a 10-minute soak, a few hundred MB/hour that
Python's own allocations (flat under tracemalloc) do not explain. Two remedies, both no-ops where
the C library is not glibc: cap the number of arenas before the component threads start
(``M_ARENA_MAX``, what ``MALLOC_ARENA_MAX`` sets, which an environment variable can still
override), and return free pages to the OS every so often (``malloc_trim``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from functools import cache

log = logging.getLogger(__name__)
M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)


@cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018 (present in glibc only)
    except (OSError, AttributeError):
        return None
    return libc


def cap_arenas(arenas: int) -> bool:
    """At most `arenas` malloc arenas from now on (threads started later share them), unless
    ``MALLOC_ARENA_MAX`` says otherwise. True when the cap was set."""
    libc = _glibc()
    if libc is None or arenas <= 0 or "MALLOC_ARENA_MAX" in os.environ:
        return False
    done = bool(libc.mallopt(M_ARENA_MAX, arenas))
    if not done:
        log.warning("mallopt(M_ARENA_MAX, %d) failed; the heap keeps glibc's default", arenas)
    return done


def trim() -> bool:
    """Give the free pages of every arena back to the OS. True when some were."""
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
