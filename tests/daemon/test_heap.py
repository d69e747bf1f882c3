"""The daemon's heap hygiene (`rara.daemon.heap`) does what it claims on this machine's C
library: trimming gives back pages that C code freed but glibc kept, and the arena cap yields to
an explicit ``MALLOC_ARENA_MAX``."""

from __future__ import annotations

import ctypes
import os
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


# 40 blocks of 1 MB, written, then freed but for the last (it pins the heap's top), after one
# 16 MB block was mapped and freed: glibc's own threshold has risen to 16 MB by then, so the
# 1 MB blocks come from the heap and stay resident when freed, unless the threshold is fixed.
_HELD_AFTER_FREE = """
import ctypes, sys
from pathlib import Path
from rara.daemon import heap

def rss_mb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

libc = heap._glibc()
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
if sys.argv[1] == "fixed":
    assert heap.fix_mmap_threshold(256 * 1024)
big = libc.malloc(16 << 20)
ctypes.memset(big, 1, 16 << 20)
libc.free(big)
blocks = [libc.malloc(1 << 20) for _ in range(40)]
for b in blocks:
    ctypes.memset(b, 1, 1 << 20)
before = rss_mb()
for b in blocks[:-1]:
    libc.free(b)
print(before - rss_mb())
"""


def _given_back_mb(mode: str) -> float:
    import subprocess
    import sys

    res = subprocess.run(
        [sys.executable, "-c", _HELD_AFTER_FREE, mode],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")},
    )
    assert res.returncode == 0, res.stderr
    return float(res.stdout)


def test_a_fixed_mmap_threshold_gives_large_blocks_back_when_they_are_freed() -> None:
    assert _given_back_mb("glibc-default") < 10  # the threshold rose: held in the heap
    assert _given_back_mb("fixed") > 30  # each block its own mapping, unmapped at free


def test_the_mmap_threshold_yields_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")
    assert heap.fix_mmap_threshold(256 * 1024) is False
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_")
    assert heap.fix_mmap_threshold(0) is False  # 0: glibc's default, nothing set
