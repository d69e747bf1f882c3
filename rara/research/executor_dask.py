"""The Dask adapter of the executor seam: candidates evaluated on a Dask distributed cluster.

The only module of rara that imports dask (the ``rara[dask]`` extra); the rest of rara runs
without it. Each job is sent as ``rara.research.job_worker.evaluate_job(job_json, shipped)``
under the key ``rara-<job id>``: Dask reruns a job whose worker died (up to the scheduler's
``allowed-failures``), and the same key submitted twice is one task, so an answer never counts
twice. The candles reach workers by content hash: from the shared data path when there is one,
otherwise scattered to the workers (a worker without them fetches them once from a peer, and
keeps them per process); the worker checks the hash either way (`rara.data.content`). A job
whose shipped candles died with every worker that held them is sent again (`DaskResult`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rara.config import ResearchClusterSettings
from rara.data.content import bytes_sha256, candles_bytes
from rara.domain.market import Candles
from rara.errors import BadInput, Refused
from rara.research.executor import CandleData, EvaluationJob, SandboxLimits
from rara.research.job_worker import evaluate_job

try:
    from distributed import Client, Future, LocalCluster
    from distributed.client import FutureCancelledError
    from distributed.security import Security
except ImportError as exc:  # pragma: no cover - only without the extra
    raise BadInput(
        "dask_missing",
        "the dask executor needs Dask distributed",
        "pip install 'rara[dask]'",
    ) from exc


class DaskResult:
    """A job's `distributed.Future`, read as the seam's `ResultFuture` (its JSON answer).

    Dask reruns a job whose worker died, but not one whose input is gone: the scattered candles
    are irrecoverable once every replica was on workers that died (the scheduler's memory
    manager keeps one replica, not one per worker). Such a job comes back cancelled; it is
    submitted again, the candles shipped again, up to `RESUBMITS` times."""

    RESUBMITS = 3

    def __init__(self, executor: DaskExecutor, job: EvaluationJob, future: Future[str]) -> None:
        self.executor, self.job, self.future = executor, job, future
        self.resubmits = 0

    def result(self, timeout: float | None = None) -> str:
        wait = timeout if timeout is not None else self.executor.timeout_s
        while True:
            try:
                answer = self.future.result(timeout=wait)
                break
            except FutureCancelledError:
                if self.resubmits >= self.RESUBMITS:
                    raise
                self.resubmits += 1
                self.executor.resubmitted += 1
                self.future = self.executor.send(self.job, attempt=self.resubmits)
        if not isinstance(answer, str):
            raise Refused("bad_job_result", f"a worker answered {type(answer).__name__}, not JSON")
        return answer


def security_of(cluster: ResearchClusterSettings) -> Security | None:
    """Dask's `Security` from the cluster settings; None when no TLS is configured."""
    if cluster.tls_cert is None and cluster.tls_ca_file is None:
        if cluster.require_encryption:
            raise BadInput(
                "tls_missing",
                "cluster.require_encryption is set but no certificate is configured",
                "set cluster.tls_ca_file, cluster.tls_cert and cluster.tls_key",
            )
        return None
    return Security(
        tls_ca_file=cluster.tls_ca_file,
        tls_client_cert=cluster.tls_cert,
        tls_client_key=cluster.tls_key,
        tls_worker_cert=cluster.tls_cert,
        tls_worker_key=cluster.tls_key,
        require_encryption=cluster.require_encryption,
    )


def task_key(job: EvaluationJob, attempt: int = 0) -> str:
    """The job's Dask key: the same job is one task; a resubmission gets a fresh key (the
    cancelled one may still be held)."""
    return f"rara-{job.job_id}" + (f"-{attempt}" if attempt else "")


class DaskExecutor:
    """`CandidateExecutor` on a Dask client. `local` is a `LocalCluster` it started and closes."""

    def __init__(
        self,
        client: Client,
        limits: SandboxLimits,
        *,
        data_path: Path | None = None,
        timeout_s: float = 600.0,
        local: LocalCluster | None = None,
    ) -> None:
        self.client, self._limits, self.data_path = client, limits, data_path
        self.timeout_s, self.local = timeout_s, local
        self._shipped: dict[str, Future[bytes]] = {}
        self._blobs: dict[str, bytes] = {}  # what was shipped, to ship again
        self.resubmitted = 0  # jobs sent again because their shipped candles were lost

    @property
    def limits(self) -> SandboxLimits:
        return self._limits

    def data(self, candles: Candles) -> CandleData:
        blob = candles_bytes(candles)
        sha = bytes_sha256(blob)
        if self.data_path is not None:
            path = self.data_path / f"{sha}.candles"
            if not path.is_file():
                self.data_path.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_bytes(blob)
                tmp.replace(path)  # whole or absent for a worker that reads it meanwhile
            return CandleData(sha256=sha, bars=len(candles), path=str(path))
        self._blobs[sha] = blob
        self._ship(sha)
        return CandleData(sha256=sha, bars=len(candles))

    def _ship(self, sha: str) -> Future[bytes]:
        """The candles' scattered future, shipped (again, when every replica was lost)."""
        shipped = self._shipped.get(sha)
        if shipped is None or shipped.status != "finished":
            # to every worker now; a worker that joins later fetches it once from a peer
            [shipped] = self.client.scatter([self._blobs[sha]], broadcast=True, hash=False)
            self._shipped[sha] = shipped
        return shipped

    def send(self, job: EvaluationJob, attempt: int = 0) -> Future[str]:
        sha = job.data.sha256
        shipped = self._ship(sha) if sha in self._blobs else None
        future: Future[str] = self.client.submit(
            evaluate_job,
            job.model_dump_json(),
            shipped,
            key=task_key(job, attempt),
            pure=False,
        )
        return future

    def submit(self, job: EvaluationJob) -> DaskResult:
        return DaskResult(self, job, self.send(job))

    def submit_batch(self, jobs: Sequence[EvaluationJob]) -> list[DaskResult]:
        """The batch in one graph update: one message to the scheduler, not one per job (the
        client batches its messages 10 ms apart, so jobs sent one by one start that late).
        Equal jobs (one key) are one task."""
        unique = list({job.job_id: job for job in jobs}.values())
        if not unique:
            return []
        shipped = {
            sha: self._ship(sha) for sha in {j.data.sha256 for j in unique} if sha in self._blobs
        }
        futures: list[Future[str]] = self.client.map(
            evaluate_job,
            [job.model_dump_json() for job in unique],
            [shipped.get(job.data.sha256) for job in unique],
            key=[task_key(job) for job in unique],
            pure=False,
        )
        by_id = {job.job_id: f for job, f in zip(unique, futures, strict=True)}
        return [DaskResult(self, job, by_id[job.job_id]) for job in jobs]

    def holders(self) -> set[str]:
        """The workers holding a replica of shipped candles (addresses)."""
        if not self._shipped:
            return set()
        who: dict[str, Any] = dict(self.client.who_has(list(self._shipped.values())))
        return {address for addresses in who.values() for address in addresses}

    def workers(self) -> dict[str, Any]:
        """The scheduler's workers (address -> info), for checks and progress lines."""
        info: dict[str, Any] = self.client.scheduler_info()
        workers: dict[str, Any] = info.get("workers", {})
        return workers

    def close(self) -> None:
        self._shipped.clear()
        self._blobs.clear()
        self.client.close()
        if self.local is not None:
            self.local.close()


def connect(
    scheduler: str, limits: SandboxLimits, cluster: ResearchClusterSettings
) -> DaskExecutor:
    """An executor on the running scheduler at `scheduler` (tcp:// or tls://)."""
    client = Client(scheduler, security=security_of(cluster), timeout=f"{cluster.timeout_s}s")
    data_path = Path(cluster.data_path) if cluster.data_path else None
    return DaskExecutor(client, limits, data_path=data_path, timeout_s=cluster.timeout_s)


def start_local(
    workers: int,
    limits: SandboxLimits,
    cluster: ResearchClusterSettings | None = None,
    *,
    data_path: Path | None = None,
) -> DaskExecutor:
    """A `LocalCluster` of `workers` single-threaded worker processes on 127.0.0.1 and an
    executor on it; closing the executor stops the cluster."""
    if workers < 1:
        raise BadInput("bad_workers", f"--workers {workers}: at least one worker")
    settings = cluster or ResearchClusterSettings()
    # the scheduler's and workers' connection chatter is not the run's progress
    logging.getLogger("distributed").setLevel(logging.WARNING)
    local = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        # the scheduler's HTTP server (health routes) binds 8787 even without a dashboard, and
        # warns when that port is taken: a free loopback port instead
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
        scheduler_port=0,
    )
    try:
        client = Client(local)
    except BaseException:
        local.close()
        raise
    path = data_path or (Path(settings.data_path) if settings.data_path else None)
    return DaskExecutor(client, limits, data_path=path, timeout_s=settings.timeout_s, local=local)
