"""How long a test may wait for something that takes seconds on a quiet machine.

A limit a test sets (a sandbox deadline a payload must finish inside, a bound on how long a dead
container may linger) must hold on a loaded 2-core CI box too, where the same work takes many
times longer: a test that passes on a quiet machine and fails on a busy one is a defect.
`patience(s)` is `s` quiet-machine seconds times a generous factor (10, what a box kept busy by
two CPU burners needs) and times ``RARA_TEST_SLOWDOWN`` (default 1) for slower machines still.
Use it only where running out of time fails the test, never to assert that something was fast.
"""

from __future__ import annotations

import os

# Read at import time: the root conftest's autouse fixture strips RARA_* from every test's env.
try:
    SLOWDOWN = max(float(os.environ.get("RARA_TEST_SLOWDOWN", "") or 1.0), 1.0)
except ValueError:
    SLOWDOWN = 1.0
LOADED_BOX = 10.0  # a quiet machine's seconds, on a 2-core box with two CPU-bound neighbours


def patience(quiet_s: float) -> float:
    """Seconds to allow for what takes `quiet_s` seconds on a quiet machine."""
    return quiet_s * LOADED_BOX * SLOWDOWN
