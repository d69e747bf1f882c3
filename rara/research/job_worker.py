"""A worker's side of the executor seam: `evaluate_job(job_json)`, the callable a Dask worker is
sent (`rara.research.executor_dask`). It parses the job, finds the candles by their content hash
(cached per process; else the shared path; else the bytes the client shipped to this worker),
refuses candles that do not hash to the job's (the refusal is its answer: the host raises it),
opens the job's sandbox once per process and returns the `JobResult` as JSON. The strategy runs
in that sandbox, never in this process."""

from __future__ import annotations

import atexit
import os
import socket
import threading
import time
from pathlib import Path

from rara.data.content import candles_from_bytes
from rara.domain.market import Candles
from rara.errors import Refused
from rara.research.executor import EvaluationJob, JobResult, SandboxLimits
from rara.runner.sandbox import Sandbox, open_sandbox
from rara.services.backtest import first_request

_lock = threading.Lock()
_candles: dict[str, Candles] = {}  # by content hash; only candles that were verified
_sandboxes: dict[SandboxLimits, Sandbox] = {}


def run_job(job: EvaluationJob, sandbox: Sandbox, candles: Candles, worker: str) -> JobResult:
    """Evaluate `job` in `sandbox` on `candles` (already known to be the job's)."""
    t = time.perf_counter()
    result = sandbox.evaluate(first_request(job.source, candles, job.params, job.seed))
    return JobResult.of(job, result, worker, (time.perf_counter() - t) * 1000.0)


def evaluate_job(job_json: str, shipped: bytes | None = None) -> str:
    """Run one job on this worker; `shipped` is the run's candle encoding when the client sent
    it (once per worker: Dask keeps it in the worker's memory), used when no shared path holds
    the data. Raises `Refused` when the data it finds does not hash to the job's."""
    job = EvaluationJob.model_validate_json(job_json)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    try:
        job.check_source()
        candles = candles_of(job, shipped)
    except Refused as exc:  # as data: the host raises it, nothing is retried
        return JobResult.refusal(job, exc, worker).model_dump_json()
    return run_job(job, sandbox_of(job.limits), candles, worker).model_dump_json()


def candles_of(job: EvaluationJob, shipped: bytes | None) -> Candles:
    sha = job.data.sha256
    with _lock:
        cached = _candles.get(sha)
    if cached is not None:
        return cached
    if job.data.path is not None and Path(job.data.path).is_file():
        data = Path(job.data.path).read_bytes()
    elif shipped is not None:
        data = shipped
    else:
        raise Refused(
            "data_unavailable",
            f"{job.job_id}: candles {sha[:16]} are neither at a shared path nor shipped",
            "give workers the shared data path, or let the client ship the data",
        )
    candles = candles_from_bytes(data, sha)  # refuses a mismatch; nothing is cached then
    if len(candles) != job.data.bars:
        raise Refused(
            "data_hash_mismatch", f"{job.job_id}: {len(candles)} bars, not {job.data.bars}"
        )
    with _lock:
        _candles[sha] = candles
    return candles


def sandbox_of(limits: SandboxLimits) -> Sandbox:
    """This process's sandbox for `limits`, opened on first use and closed at exit."""
    with _lock:
        box = _sandboxes.get(limits)
        if box is None:
            box = open_sandbox(
                limits.backend,
                limits.wall_timeout_s,
                limits.memory_mb,
                limits.proof_us_per_bar,
                limits.cpus,
                limits.image,
            )
            _sandboxes[limits] = box
            atexit.register(box.close)
    return box
