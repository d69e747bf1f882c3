"""The thread adapter of the executor seam (`rara.research.executor`): the host's own sandbox,
one thread per job of a batch, the candles in memory. What the research loop did before there
was a seam, and what it does unless told otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from rara.data.content import candles_sha256
from rara.domain.market import Candles
from rara.errors import Refused
from rara.research.executor import CandleData, EvaluationJob, SandboxLimits
from rara.research.job_worker import run_job
from rara.runner.sandbox import Sandbox


class ThreadExecutor:
    """The host's sandbox, one thread per job (a jailed child each): today's evaluation. The
    sandbox is stateless, so concurrent jobs share it; the candles stay in memory."""

    def __init__(
        self, sandbox: Sandbox, limits: SandboxLimits | None = None, threads: int = 8
    ) -> None:
        self.sandbox = sandbox
        self._limits = limits or SandboxLimits(backend=type(sandbox).__name__)
        self._threads = threads
        self._pool: ThreadPoolExecutor | None = None  # started by the first job, again after close
        self._candles: dict[str, Candles] = {}

    @property
    def limits(self) -> SandboxLimits:
        return self._limits

    def data(self, candles: Candles) -> CandleData:
        sha = candles_sha256(candles)
        self._candles[sha] = candles
        return CandleData(sha256=sha, bars=len(candles))

    def submit(self, job: EvaluationJob) -> Future[str]:
        candles = self._candles.get(job.data.sha256)
        if candles is None:
            raise Refused("unknown_data", f"{job.job_id}: no candles {job.data.sha256[:16]} here")
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="rara-eval")
        return self._pool.submit(self._run, job, candles)

    def submit_batch(self, jobs: Sequence[EvaluationJob]) -> list[Future[str]]:
        return [self.submit(job) for job in jobs]

    def _run(self, job: EvaluationJob, candles: Candles) -> str:
        return run_job(job, self.sandbox, candles, worker="host").model_dump_json()

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
