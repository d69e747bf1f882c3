"""A random heap layout for every sandbox process, drawn before any strategy code runs.

Jailed children fork from one zygote: without this, two evaluations of the same source would
place every object at the same address, and a strategy whose signals depend on an address (the
routes the runtime knows are closed, see `restricted`) would look deterministic. A random number
of live objects in every small-object size class, and a random-sized large block, move the
addresses of everything allocated afterwards; the determinism check (the same signals from a
second process) then sees any dependence that is left.
"""

from __future__ import annotations

import os

SIZE_CLASSES = range(0, 512 - 32, 16)  # bytes payloads spanning pymalloc's size classes
MAX_PER_CLASS = 256  # one random byte per class: two processes share a class's layout 1 in 256
PAGE = 4096
MAX_LARGE_PAGES = 512  # up to 2 MiB: shifts where malloc/mmap place big arrays

_KEPT: list[object] = []


def randomise_heap_layout() -> None:
    """Allocate (and keep alive until the next call) a random amount of memory."""
    draw = os.urandom(len(SIZE_CLASSES) + 2)
    kept: list[object] = []
    for size, r in zip(SIZE_CLASSES, draw, strict=False):
        kept.extend(bytes(size + 1) for _ in range(r % MAX_PER_CLASS))
    pages = int.from_bytes(draw[-2:], "little") % MAX_LARGE_PAGES
    kept.append(bytearray(PAGE * pages + draw[0] % PAGE))
    _KEPT[:] = kept
