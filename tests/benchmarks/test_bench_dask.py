"""`benchmarks/bench_dask.py` cannot rot: its overhead readings run real jobs on the host's
threads and on a real local Dask cluster, sequential and in batches, and come back as finite,
positive-where-they-must figures. Nothing here asserts a duration."""

from __future__ import annotations

import math

import pytest

from benchmarks.bench_dask import Overheads, overheads_ms

pytestmark = pytest.mark.slow


@pytest.mark.timeout(600)
def test_overheads_are_read_on_threads_and_on_a_local_cluster() -> None:
    threads = overheads_ms("thread", 2)
    dask = overheads_ms("dask-local", 2)
    for o in (threads, dask):
        assert isinstance(o, Overheads)
        assert all(math.isfinite(v) for v in (o.sequential, o.batched, o.floor))
    assert threads.floor == 0.0  # no scheduler in the way
    assert dask.floor > 0.0  # a real task's round trip through the scheduler
