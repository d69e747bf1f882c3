"""The executor seam without Dask: candles by content hash, the job's identity, the thread
executor's answer equal to the sandbox's own, a refusal as data, and that only the Dask adapter
imports dask."""

from __future__ import annotations

import ast

import pytest

from rara.data.content import candles_bytes, candles_from_bytes, candles_sha256
from rara.data.synth import generate
from rara.errors import Refused
from rara.research.executor import CandleData, EvaluationJob, JobResult, SandboxLimits
from rara.research.executor_threads import ThreadExecutor
from rara.research.job_worker import evaluate_job
from rara.runner.sandbox import InProcessSandbox
from rara.services.backtest import evaluate_candidate
from tests.kit.paths import RARA, REPO

SMA = (REPO / "strategies" / "examples" / "sma_crossover" / "strategy.py").read_text()
CANDLES = generate(600, "1h", seed=3).candles
OTHER = generate(600, "1h", seed=4).candles


def test_candle_bytes_round_trip_and_name_their_content() -> None:
    blob = candles_bytes(CANDLES)
    sha = candles_sha256(CANDLES)
    back = candles_from_bytes(blob, sha)
    assert candles_sha256(back) == sha and len(back) == len(CANDLES)
    assert (back.close == CANDLES.close).all() and (back.ts == CANDLES.ts).all()
    assert candles_sha256(OTHER) != sha
    with pytest.raises(Refused) as caught:
        candles_from_bytes(candles_bytes(OTHER), sha)
    assert caught.value.code == "data_hash_mismatch"


def _job(params: dict[str, int], data: CandleData, seed: int = 1) -> EvaluationJob:
    return EvaluationJob.of(SMA, params, data, seed, 400, SandboxLimits(backend="inprocess"))


def test_a_job_is_named_by_its_content_not_its_data_path() -> None:
    data = CandleData(sha256=candles_sha256(CANDLES), bars=len(CANDLES))
    a = _job({"fast": 5, "slow": 20}, data)
    assert a.job_id == _job({"fast": 5, "slow": 20}, data).job_id
    assert a.job_id == _job({"fast": 5, "slow": 20}, data.model_copy(update={"path": "/x"})).job_id
    assert a.job_id != _job({"fast": 6, "slow": 20}, data).job_id
    assert a.job_id != _job({"fast": 5, "slow": 20}, data, seed=2).job_id
    assert EvaluationJob.model_validate_json(a.model_dump_json()) == a


def test_thread_executor_answers_what_the_sandbox_answers() -> None:
    sandbox = InProcessSandbox()
    ex = ThreadExecutor(sandbox)
    try:
        job = _job({"fast": 5, "slow": 20}, ex.data(CANDLES))
        answer = JobResult.model_validate_json(ex.submit(job).result(timeout=120))
    finally:
        ex.close()
    direct = evaluate_candidate(sandbox, SMA, CANDLES, {"fast": 5, "slow": 20}, seed=1)
    ev = answer.evaluation(job)
    assert ev.ok and len(ev.windows) == len(direct.evaluation.windows)
    for got, want in zip(ev.windows, direct.evaluation.windows, strict=True):
        assert (got.entries == want.entries).all() and (got.exits == want.exits).all()
    # an answer is only read for the job it names
    other = _job({"fast": 6, "slow": 20}, job.data)
    with pytest.raises(Refused) as caught:
        answer.evaluation(other)
    assert caught.value.code == "job_result_mismatch"


def test_a_worker_refuses_shipped_candles_of_another_hash(tmp_path) -> None:
    data = CandleData(sha256=candles_sha256(CANDLES), bars=len(CANDLES))
    job = _job({"fast": 5, "slow": 20}, data)
    answer = JobResult.model_validate_json(
        evaluate_job(job.model_dump_json(), candles_bytes(OTHER))
    )
    assert answer.refused is not None and answer.refused.code == "data_hash_mismatch"
    with pytest.raises(Refused) as caught:
        answer.evaluation(job)
    assert caught.value.code == "data_hash_mismatch"
    # and a source that is not the one the job names
    forged = job.model_copy(update={"source": SMA + "\n# changed\n"})
    answer = JobResult.model_validate_json(evaluate_job(forged.model_dump_json(), None))
    assert answer.refused is not None and answer.refused.code == "source_hash_mismatch"


def test_only_the_dask_adapter_imports_dask() -> None:
    importers = []
    for path in sorted(RARA.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            if any(n.split(".")[0] in ("dask", "distributed") for n in names):
                importers.append(path.relative_to(RARA.parent).as_posix())
    assert sorted(set(importers)) == ["rara/research/executor_dask.py"]


def test_the_batch_is_part_of_the_run_only_when_set() -> None:
    from rara.domain.events import ResearchRunConfig
    from rara.research.run_setup import RunConfig

    base = {
        "exchange": "binance",
        "symbol": "BTC/USDT",
        "timeframe": "1h",
        "proposer": "builtin",
        "model": None,
        "seed": 7,
        "iterations": 6,
        "max_cost_usd": None,
        "max_duration_s": None,
        "backend": "subprocess",
    }
    unset, four = RunConfig(**base), RunConfig(**base, batch=4)
    # a run without --batch keeps the config (so the id and hash) it had before batch existed
    assert unset.to_dict() == base and unset.effective_batch() == 2
    assert four.to_dict() == {**base, "batch": 4} and four.effective_batch() == 4
    assert RunConfig(**{**base, "proposer": "llm"}).effective_batch() == 1
    assert "batch" not in ResearchRunConfig(**unset.to_dict()).model_dump()
    assert ResearchRunConfig(**four.to_dict()).model_dump()["batch"] == 4
