"""Where a candidate's sandbox evaluation runs: the executor seam of the research loop.

The loop turns each ready candidate into an `EvaluationJob` (frozen: the strategy source and its
sha256, params, the candles' content hash and where to find them, the seed, the sandbox limits)
and hands a batch of them to a `CandidateExecutor`: ``submit_batch(jobs)`` returns futures whose
results are plain JSON (`JobResult`: the sandbox's answer as its own wire frame, compressed). The
loop reads the futures in candidate order, so which worker answered first never changes what is
recorded.

Two executors: `rara.research.executor_threads` (the host's own sandbox, a thread per candidate
of a batch: rara's behaviour before there was a seam) and `rara.research.executor_dask`, the only
module that imports dask. A worker runs `rara.research.job_worker.evaluate_job`; the
strategy is data inside the job and runs in the worker's sandbox, never as the submitted callable.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from collections.abc import Sequence
from typing import Any, Protocol, Self

from pydantic import BaseModel, ConfigDict, Field

from rara.domain.market import Candles
from rara.domain.strategy import source_sha256
from rara.errors import Refused
from rara_sandbox.protocol import decode_response, encode_response
from rara_sandbox.results import EvaluationResult

EXECUTORS = ("thread", "dask", "dask-local")


class SandboxLimits(BaseModel):
    """The sandbox a worker evaluates a job in (`rara.config.SandboxSettings`' values)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: str = "subprocess"
    wall_timeout_s: float = Field(10.0, gt=0)
    memory_mb: int = Field(1024, ge=64)
    proof_us_per_bar: float = Field(20.0, gt=0)
    cpus: float = Field(1.0, gt=0)
    image: str | None = None


class CandleData(BaseModel):
    """Candles by content: their sha256 (`rara.data.content`), bar count and, when the workers
    share a filesystem with the host, the file holding them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bars: int = Field(ge=0)
    path: str | None = None


class EvaluationJob(BaseModel):
    """One candidate's first evaluation (signals on the full history and every look-ahead
    variant), everything a worker needs but the candles themselves. `job_id` names the content:
    two equal jobs are one evaluation, and a result that comes back twice is recorded once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: str
    source: str
    source_sha256: str
    params: dict[str, Any] | None
    data: CandleData
    seed: int
    holdout_start: int | None
    limits: SandboxLimits

    @classmethod
    def of(
        cls,
        source: str,
        params: dict[str, Any] | None,
        data: CandleData,
        seed: int,
        holdout_start: int | None,
        limits: SandboxLimits,
    ) -> Self:
        sha = source_sha256(source)
        key = json.dumps(
            {
                "source_sha256": sha,
                "params": params,
                # where the data is does not change the answer: the hash does
                "data": data.sha256,
                "seed": seed,
                "holdout_start": holdout_start,
                "limits": limits.model_dump(mode="json"),
            },
            sort_keys=True,
        )
        job_id = "job-" + hashlib.sha256(key.encode()).hexdigest()[:24]
        return cls(
            job_id=job_id,
            source=source,
            source_sha256=sha,
            params=params,
            data=data,
            seed=seed,
            holdout_start=holdout_start,
            limits=limits,
        )

    def check_source(self) -> None:
        """The source is the one the job names (what a worker checks before running it)."""
        if source_sha256(self.source) != self.source_sha256:
            raise Refused("source_hash_mismatch", f"{self.job_id}: the source is not the one named")


class JobRefusal(BaseModel):
    """Why a worker would not run a job (a `rara.errors.Refused`, as data: it crosses Dask)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    message: str
    suggestion: str = ""


class JobResult(BaseModel):
    """A worker's answer: the sandbox's `EvaluationResult` as the sandbox protocol's own frame,
    zlib-compressed (a frame is mostly per-bar position flags: ~230 KB for a year of 1h bars,
    ~18 KB compressed, which is what crosses the network from a remote worker), then decoded
    and re-validated on the host, as a jailed child's answer is; and who ran it; or why the
    worker refused the job (its data or source not the ones the job names)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: str
    data_sha256: str
    worker: str
    elapsed_ms: float = 0.0
    response_zlib_b64: str | None = None
    refused: JobRefusal | None = None

    @classmethod
    def refusal(cls, job: EvaluationJob, exc: Refused, worker: str) -> Self:
        why = JobRefusal(code=exc.code, message=exc.message, suggestion=exc.suggestion)
        return cls(job_id=job.job_id, data_sha256=job.data.sha256, worker=worker, refused=why)

    @classmethod
    def of(
        cls, job: EvaluationJob, result: EvaluationResult, worker: str, elapsed_ms: float
    ) -> Self:
        frame = zlib.compress(encode_response(result), 1)  # level 1: 13x smaller in 0.7 ms
        return cls(
            job_id=job.job_id,
            data_sha256=job.data.sha256,
            response_zlib_b64=base64.b64encode(frame).decode("ascii"),
            worker=worker,
            elapsed_ms=round(elapsed_ms, 3),
        )

    def evaluation(self, job: EvaluationJob) -> EvaluationResult:
        """The sandbox's answer, once it is known to answer `job`."""
        if self.job_id != job.job_id or self.data_sha256 != job.data.sha256:
            raise Refused(
                "job_result_mismatch", f"a result for {self.job_id} came back for {job.job_id}"
            )
        if self.refused is not None:
            why = self.refused
            raise Refused(why.code, f"worker {self.worker}: {why.message}", why.suggestion)
        if self.response_zlib_b64 is None:
            raise Refused("job_result_empty", f"{self.job_id}: neither an answer nor a refusal")
        try:
            frame = zlib.decompress(base64.b64decode(self.response_zlib_b64, validate=True))
        except (ValueError, zlib.error) as exc:
            raise Refused("bad_job_result", f"{self.job_id}: a corrupt answer ({exc})") from exc
        return decode_response(frame)


class ResultFuture(Protocol):
    """What `submit` returns: `concurrent.futures.Future` and `distributed.Future` both are."""

    def result(self, timeout: float | None = None) -> str: ...


class CandidateExecutor(Protocol):
    """Runs `EvaluationJob`s somewhere; `data` says where the run's candles are for its jobs."""

    @property
    def limits(self) -> SandboxLimits: ...

    def data(self, candles: Candles) -> CandleData:
        """Make `candles` available to the executor's workers; what the jobs name them by."""
        ...

    def submit(self, job: EvaluationJob) -> ResultFuture: ...

    def submit_batch(self, jobs: Sequence[EvaluationJob]) -> Sequence[ResultFuture]:
        """Every job of a batch at once (one message to a scheduler), futures in job order."""
        ...

    def close(self) -> None: ...
