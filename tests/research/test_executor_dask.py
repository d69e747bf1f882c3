"""Candidates evaluated on real Dask clusters (worker processes on 127.0.0.1): the same trials and
run hash as in this process, a worker SIGKILLed mid-run without a trial lost or doubled, a job
whose candles do not hash to its data hash refused by the worker, and `rara worker` joining a
`dask scheduler` (and refusing a machine that cannot sandbox)."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from rara.config import load_settings
from rara.data.catalog import Catalog
from rara.data.content import candles_bytes
from rara.data.synth import generate
from rara.errors import Refused
from rara.home import Home
from rara.research.executor import EvaluationJob, JobResult, SandboxLimits
from rara.research.executor_dask import DaskExecutor, connect, start_local
from rara.research.run_setup import ExecutorChoice, RunConfig
from rara.research.session import ResearchSession
from tests.kit.paths import REPO

pytestmark = pytest.mark.slow

ITERATIONS = 100
BATCH = 4  # the run's setting: the same on 1 thread or 2 workers
SEED = 11
SMA = (REPO / "strategies" / "examples" / "sma_crossover" / "strategy.py").read_text()


def run_config() -> RunConfig:
    return RunConfig(
        exchange="",
        symbol="BTC/USDT",
        timeframe="1h",
        proposer="builtin",
        model=None,
        seed=SEED,
        iterations=ITERATIONS,
        max_cost_usd=None,
        max_duration_s=None,
        backend="subprocess",
        batch=BATCH,
    )


def open_session(root: Path, executor: ExecutorChoice) -> ResearchSession:
    home = Home(root=root)
    cfg = run_config()
    inst = Catalog(home.data_dir).resolve(cfg.symbol, cfg.timeframe, None)
    cfg.exchange = inst.exchange
    return ResearchSession(cfg, load_settings(home), home, executor=executor)


def trial_table(root: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(root / "rara.db") as db:
        rows = db.execute(
            "SELECT trial_id, run_id, strategy_id, source_sha256, params, segment, start_ms, "
            "end_ms, n_obs, sharpe, metrics, returns FROM trials"
        ).fetchall()
    return sorted(rows)


def experiment_table(root: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(root / "rara.db") as db:
        return db.execute(
            "SELECT iteration, outcome, failed_check, source_sha256 FROM experiments "
            "ORDER BY iteration"
        ).fetchall()


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The reference: the run on this machine's sandbox, in threads."""
    root = tmp_path_factory.mktemp("threads")
    with open_session(root, ExecutorChoice("thread")) as session:
        summary = session.run()
    return root, summary


def assert_same_run(root: Path, summary: dict[str, Any], ref: tuple[Path, dict[str, Any]]) -> None:
    ref_root, ref_summary = ref
    assert summary["experiments"] == ITERATIONS == ref_summary["experiments"]
    assert summary["run_id"] == ref_summary["run_id"]
    assert summary["run_hash"] == ref_summary["run_hash"]
    assert summary["trials"] == ref_summary["trials"]
    assert trial_table(root) == trial_table(ref_root) and trial_table(root)
    assert experiment_table(root) == experiment_table(ref_root)
    assert [e[0] for e in experiment_table(root)] == list(range(ITERATIONS))


@pytest.mark.timeout(1800)  # with the reference run: two runs of 100 candidates on 2 loaded cores
def test_local_cluster_gives_the_in_process_trials_and_run_hash(
    in_process: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    with open_session(tmp_path / "dask", ExecutorChoice("dask-local", workers=2)) as session:
        assert isinstance(session.executor, DaskExecutor)
        assert len(session.executor.workers()) == 2
        summary = session.run()
    assert_same_run(tmp_path / "dask", summary, in_process)


class Killer(threading.Thread):
    """SIGKILLs, once, after `after_s`, the first worker seen running a job, preferring one that
    holds the shipped candles (when it holds the only replica, the jobs that need them are
    submitted again with the candles shipped again)."""

    def __init__(self, executor: DaskExecutor, after_s: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.executor, self.after_s = executor, after_s
        self.pids: dict[str, int] = executor.client.run(os.getpid)
        self.killed: tuple[int, list[str]] | None = None
        self.only_holder = False  # it held the only replica of the shipped candles
        self.done = threading.Event()

    def run(self) -> None:
        self.done.wait(self.after_s)
        while not self.done.is_set():
            processing: dict[str, Any] = self.executor.client.processing()
            holders = self.executor.holders()
            busy = sorted(processing.items(), key=lambda item: item[0] not in holders)
            for address, keys in busy:
                jobs = [str(k) for k in keys if str(k).startswith("rara-job-")]
                if jobs and address in self.pids:
                    self.only_holder = holders == {address}
                    os.kill(self.pids[address], signal.SIGKILL)
                    self.killed = (self.pids[address], jobs)
                    return
            time.sleep(0.02)


@pytest.mark.timeout(1800)
def test_a_worker_killed_mid_run_loses_and_doubles_no_trial(
    in_process: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    with open_session(tmp_path / "killed", ExecutorChoice("dask-local", workers=2)) as session:
        assert isinstance(session.executor, DaskExecutor)
        killer = Killer(session.executor)
        killer.start()
        try:
            summary = session.run()
        finally:
            killer.done.set()
            killer.join(timeout=60)
        assert killer.killed is not None, "no job was seen running on a worker"
        pid, running = killer.killed
        assert running  # it died holding jobs, which Dask ran again on a live worker
        if killer.only_holder:  # and the candles with it: shipped again, its jobs sent again
            assert session.executor.resubmitted >= 1
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        # the nanny started a new worker process; the cluster still has two
        assert pid not in session.executor.client.run(os.getpid).values()
    assert_same_run(tmp_path / "killed", summary, in_process)


@pytest.fixture
def local_cluster(tmp_path: Path) -> Iterator[Callable[[Path | None], DaskExecutor]]:
    opened: list[DaskExecutor] = []

    def start(data_path: Path | None) -> DaskExecutor:
        ex = start_local(2, SandboxLimits(backend="subprocess"), data_path=data_path)
        opened.append(ex)
        return ex

    yield start
    for ex in opened:
        ex.close()


def test_a_worker_refuses_a_job_whose_data_does_not_match_its_hash(
    local_cluster: Callable[[Path | None], DaskExecutor], tmp_path: Path
) -> None:
    candles = generate(800, "1h", seed=21).candles
    other = generate(800, "1h", seed=22).candles
    ex = local_cluster(tmp_path / "shared")
    data = ex.data(candles)
    assert data.path is not None and Path(data.path).is_file()
    Path(data.path).write_bytes(candles_bytes(other))  # the shared path now holds other candles
    job = EvaluationJob.of(SMA, {"fast": 5, "slow": 20}, data, 1, 600, ex.limits)
    answer = JobResult.model_validate_json(ex.submit(job).result())
    assert answer.refused is not None and answer.refused.code == "data_hash_mismatch"
    assert answer.worker.endswith(tuple(f":{p}" for p in ex.client.run(os.getpid).values()))
    with pytest.raises(Refused) as caught:
        answer.evaluation(job)
    assert caught.value.code == "data_hash_mismatch"
    # nothing was cached from the refused bytes: the right ones are read and evaluated
    Path(data.path).write_bytes(candles_bytes(candles))
    ev = JobResult.model_validate_json(ex.submit(job).result()).evaluation(job)
    assert ev.ok and len(ev.windows[-1].entries) == len(candles)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


@contextmanager
def scheduler_and_worker(
    rara_home: Path, protocol: str = "tcp", scheduler_args: tuple[str, ...] = ()
) -> Iterator[str]:
    """A `dask scheduler` on 127.0.0.1 and one `rara worker` (name w1, the home's settings)
    joining it; their address, both stopped after."""
    port = free_port()
    address = f"{protocol}://127.0.0.1:{port}"
    env = {**os.environ, "RARA_HOME": str(rara_home), "PYTHONPATH": str(REPO)}
    scheduler = subprocess.Popen(
        [
            *(sys.executable, "-m", "distributed.cli.dask_scheduler"),
            *("--host", "127.0.0.1", "--port", str(port), "--protocol", protocol),
            *("--no-dashboard", "--dashboard-address", "127.0.0.1:0", *scheduler_args),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "rara", "worker", "--scheduler", address, "--name", "w1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield address
    finally:
        stop(worker)
        stop(scheduler)


def run_one_job(ex: DaskExecutor, seed: int) -> None:
    """Wait for the worker w1, then one SMA job through it, answered."""
    ex.client.wait_for_workers(1, timeout=300)
    assert [w["name"] for w in ex.workers().values()] == ["w1"]
    candles = generate(800, "1h", seed=seed).candles
    job = EvaluationJob.of(SMA, None, ex.data(candles), 1, 600, ex.limits)
    answer = JobResult.model_validate_json(ex.submit(job).result())
    assert answer.evaluation(job).ok


def test_rara_worker_joins_a_scheduler_and_runs_jobs(rara_home: Path) -> None:
    with scheduler_and_worker(rara_home) as address:
        settings = load_settings(Home(root=rara_home))
        ex = connect(address, SandboxLimits(backend="subprocess"), settings.cluster)
        try:
            run_one_job(ex, 23)
        finally:
            ex.close()


def test_rara_worker_refuses_a_machine_without_the_sandbox(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    # a machine without a Docker engine, whether or not this one has one: the engine's socket
    # is a path where nothing listens
    no_engine = {"DOCKER_HOST": f"unix://{tmp_path / 'no-docker.sock'}"}
    r = cli(
        "worker",
        "--scheduler",
        "tcp://127.0.0.1:9",
        "--backend",
        "docker",
        env=no_engine,
        timeout=120,
    )
    assert r.code == 3 and r.error["code"] == "worker_environment"
    assert "docker_engine" in r.error["message"]
    checked = cli("worker", "--check", timeout=120)
    assert checked.code == 0, checked.stderr
    assert json.loads(checked.stdout)["ok"] is True


def test_the_cli_runs_on_a_local_cluster_with_the_threads_run_hash(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    args = ["research", "run", "--seed", "7", "--iterations", "6", "--batch", "3", "--quiet"]
    threads = cli(*args, env={"RARA_HOME": str(tmp_path / "t")}, timeout=600)
    assert threads.code == 0, threads.stderr
    dask = cli(
        *args,
        "--executor",
        "dask-local",
        "--workers",
        "2",
        env={"RARA_HOME": str(tmp_path / "d")},
        timeout=600,
    )
    assert dask.code == 0, dask.stderr
    assert dask.json["run_id"] == threads.json["run_id"]
    assert dask.json["run_hash"] == threads.json["run_hash"]
    assert trial_table(tmp_path / "d") == trial_table(tmp_path / "t")
    no_scheduler = cli(*args, "--executor", "dask", timeout=300)
    assert no_scheduler.code == 2 and no_scheduler.error["code"] == "no_scheduler"


@pytest.mark.timeout(400)
def test_jobs_whose_shipped_candles_died_with_every_worker_are_sent_again(
    local_cluster: Callable[[Path | None], DaskExecutor],
) -> None:
    ex = local_cluster(None)
    candles = generate(800, "1h", seed=24).candles
    data = ex.data(candles)
    assert data.path is None and ex.holders()  # shipped, not shared
    pids = ex.client.run(os.getpid)
    # both workers busy, so the job waits for them holding its input (the shipped candles)
    busy = [ex.client.submit(time.sleep, 2, pure=False) for _ in pids]
    job = EvaluationJob.of(SMA, {"fast": 4, "slow": 30}, data, 1, 600, ex.limits)
    pending = ex.submit(job)
    for pid in pids.values():
        os.kill(pid, signal.SIGKILL)  # every replica of the candles dies with its worker
    ev = JobResult.model_validate_json(pending.result(timeout=300)).evaluation(job)
    assert ev.ok and len(ev.windows[-1].entries) == len(candles)
    assert ex.resubmitted == 1  # the cancelled job, sent again after the candles were
    del busy


def test_a_job_sent_twice_is_run_once_and_answered_alike(
    local_cluster: Callable[[Path | None], DaskExecutor],
) -> None:
    """The same job (the same key, ``rara-<job id>``) submitted while the first is pending or
    done is one Dask task: one run, one answer for both (the research loop also submits equal
    jobs of a batch once); a rerun would measure its own sandbox time."""
    ex = local_cluster(None)
    data = ex.data(generate(800, "1h", seed=26).candles)
    job = EvaluationJob.of(SMA, {"fast": 7, "slow": 31}, data, 1, 600, ex.limits)
    first, second = ex.submit(job), ex.submit(job)
    assert first.future.key == second.future.key == f"rara-{job.job_id}"
    a, b = first.result(), second.result()
    assert a == b  # the same JSON: worker, pid and elapsed time included
    again = ex.submit(job).result()  # while the first futures still hold the answer
    assert again == a
    story = ex.client.run_on_scheduler(
        lambda dask_scheduler, key: [tuple(t[1:3]) for t in dask_scheduler.story(key)],
        key=first.future.key,
    )
    assert story.count(("processing", "memory")) == 1  # computed once, on one worker
