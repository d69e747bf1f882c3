"""The daemon's heap hygiene (`rara.daemon.heap`) does what it claims on this machine's C
library: trimming gives back pages that C code freed but glibc kept, and the arena cap yields to
an explicit ``MALLOC_ARENA_MAX``."""

from __future__ import annotations

import ctypes
from pathlib import Path

import pytest

from rara.daemon import heap

pytestmark = pytest.mark.skipif(
    heap._glibc() is None, reason="glibc only: elsewhere both are no-ops by design"
)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_trim_returns_what_c_code_freed_but_the_heap_kept() -> None:
    libc = heap._glibc()
    assert libc is not None
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    # 40 MB of small blocks (below the mmap threshold, so they live in the heap), written so
    # they are resident, then freed but for the last: it pins the heap's top, so the freed
    # pages below it stay mapped until a trim
    blocks = [libc.malloc(1024) for _ in range(40_000)]
    assert all(blocks)
    for b in blocks:
        ctypes.memset(b, 1, 1024)
    for b in blocks[:-1]:
        libc.free(b)
    held = _rss_mb()
    assert heap.trim()
    after = _rss_mb()
    libc.free(blocks[-1])
    assert held - after > 20, (held, after)


def test_the_arena_cap_yields_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert heap.cap_arenas(2) is False
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    assert heap.cap_arenas(0) is False  # 0: glibc's default, nothing set
    assert heap.cap_arenas(2) is True
