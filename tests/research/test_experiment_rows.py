"""Experiment rows in the state DB: what a finished iteration writes reads back the same, and the
loop's stop words and origins are spelled in one place."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from rara.domain.market import Instrument, Timeframe
from rara.research.models import (
    BUDGET,
    builtin_origin,
    experiment_id,
    fix_origin,
    gate_check_of,
    proposer_failure,
    sandbox_failure,
)
from rara.research.record import IterationResult
from rara.research.store import Experiment, ResearchStore


def test_a_row_reads_back_and_the_retired_timings_column_is_written_empty(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    inst = Instrument(exchange="binance", symbol="BTC/USDT", timeframe=Timeframe.parse("1h"))
    stopped = IterationResult(
        iteration=0,
        experiment_id=experiment_id("run", 0),
        outcome="error",
        failed_check=BUDGET,
        error="LLM cost limit reached",
    )
    row = stopped.experiment("run", "builtin", inst, 10)
    store = ResearchStore(db)
    store.record(row, None)
    back = store.get(row.experiment_id)
    store.close()
    assert back is not None
    assert back.model_dump(exclude={"created_at"}) == row.model_dump(exclude={"created_at"})
    assert "timings" not in Experiment.model_fields
    with sqlite3.connect(db) as conn:
        (timings,) = conn.execute("SELECT timings FROM experiments").fetchone()
    assert timings == "{}"  # older readers of the file still find the column filled


def test_stop_words_and_origins_keep_their_stored_spelling() -> None:
    assert (BUDGET, proposer_failure("llm_timeout")) == ("budget", "proposer.llm_timeout")
    assert sandbox_failure("lint_failed") == "sandbox.lint_failed"
    assert gate_check_of(sandbox_failure("lint_failed")) == "sandbox"
    assert gate_check_of(proposer_failure("llm_timeout")) is None
    assert (builtin_origin("explore"), fix_origin("llm", 2)) == ("builtin:explore", "llm:fix2")
