"""The daemon's native heap. glibc keeps what C code frees (numpy buffers, SQLite pages, the
JIT's scratch) in per-thread arenas and gives little of it back, so a process that runs for weeks
with threads coming and going (a research run's pool, trading engines starting and stopping)
grows in resident memory without holding more: in a 10-minute soak, a few hundred MB/hour that
Python's own allocations (flat under tracemalloc) do not explain. Three remedies, all no-ops
where the C library is not glibc, set before the component threads start:

- cap the number of arenas (``M_ARENA_MAX``, what ``MALLOC_ARENA_MAX`` sets);
- fix the mmap threshold (``M_MMAP_THRESHOLD``, what ``MALLOC_MMAP_THRESHOLD_`` sets): glibc
  raises it to the size of the largest mapped block freed so far (up to 32 MB), after which a
  research run's candle columns and backtest arrays come from the heap and leave holes in it;
  fixed, a block that large is mapped and goes back to the OS when freed;
- return free pages to the OS every so often (``malloc_trim``).

An environment variable that sets the same parameter wins over the setting.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from functools import cache

log = logging.getLogger(__name__)
M_ARENA_MAX = -8  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3


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


def _mallopt(param: int, name: str, env: str, value: int) -> bool:
    """glibc's ``mallopt(param, value)`` unless `value` is 0 (glibc's default) or the environment
    variable `env` sets the parameter. True when it was set."""
    libc = _glibc()
    if libc is None or value <= 0 or env in os.environ:
        return False
    done = bool(libc.mallopt(param, value))
    if not done:
        log.warning("mallopt(%s, %d) failed; the heap keeps glibc's default", name, value)
    return done


def cap_arenas(arenas: int) -> bool:
    """At most `arenas` malloc arenas from now on (threads started later share them), unless
    ``MALLOC_ARENA_MAX`` says otherwise. True when the cap was set."""
    return _mallopt(M_ARENA_MAX, "M_ARENA_MAX", "MALLOC_ARENA_MAX", arenas)


def fix_mmap_threshold(size_bytes: int) -> bool:
    """Blocks of `size_bytes` and more are mapped on their own from now on, whatever was freed
    before, unless ``MALLOC_MMAP_THRESHOLD_`` says otherwise. True when it was set."""
    return _mallopt(M_MMAP_THRESHOLD, "M_MMAP_THRESHOLD", "MALLOC_MMAP_THRESHOLD_", size_bytes)


def trim() -> bool:
    """Give the free pages of every arena back to the OS. True when some were."""
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
