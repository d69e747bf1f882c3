"""Research memory: lessons are append-only rows in the state DB, recalled by full-text relevance
within the market, recency and regime; and the regime tagger on real and made-up markets."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from rara.data.catalog import Catalog
from rara.data.synth import generate
from rara.domain.market import Candles, Instrument, Timeframe
from rara.home import Home
from rara.research.lesson_schema import fts5_available
from rara.research.memory import LessonStore, query_terms
from rara.research.models import Lesson, experiment_id
from rara.research.regime import measure_regime, tag_regime

HOUR = 3_600_000


def make(
    i: int,
    *,
    family: str = "ma_cross",
    symbol: str = "BTC/USDT",
    timeframe: str = "1h",
    regime: str = "range",
    insight: str = "validation Sharpe 0.2 < 1",
    failed: str | None = "floor.sharpe",
    outcome: str = "rejected",
    hypothesis: str = "EMA(12)/EMA(48) crossover captures 1h trends in BTC/USDT",
) -> Lesson:
    return Lesson.model_validate(
        {"experiment_id": f"exp-{i:03d}", "run_id": "run-1", "iteration": i,
         "hypothesis": hypothesis, "family": family, "symbol": symbol, "timeframe": timeframe,
         "regime": regime, "outcome": outcome, "failed_check": failed, "validation_sharpe": 0.2,
         "insight": insight}
    )  # fmt: skip


@pytest.fixture(params=[True, False], ids=["fts5", "fallback"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> LessonStore:
    if request.param and not fts5_available():
        pytest.skip("this Python's SQLite has no FTS5")
    return LessonStore(tmp_path / "rara.db", fts=request.param)


def ids(lessons: list[Lesson]) -> list[str]:
    return [x.experiment_id for x in lessons]


def test_store_detects_fts5_and_says_which_ranking_it_uses(tmp_path: Path) -> None:
    def has_index(path: Path) -> bool:
        with sqlite3.connect(path) as db:
            row = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'lessons_fts'").fetchone()
        return row is not None

    with LessonStore(tmp_path / "detected.db") as detected:
        assert detected.fts_enabled == fts5_available()
    assert has_index(tmp_path / "detected.db") == fts5_available()
    with LessonStore(tmp_path / "plain.db", fts=False) as plain:
        assert not plain.fts_enabled
    assert not has_index(tmp_path / "plain.db")  # the fallback never needs the FTS5 module


def test_lessons_live_in_the_given_homes_state_db(tmp_path: Path, rara_home: Path) -> None:
    home = Home(root=tmp_path / "h")
    with LessonStore(home.state_db) as s:
        assert s.path == home.state_db and s.count() == 0
    assert home.state_db.is_file() and not rara_home.exists()


def test_round_trip(store: LessonStore) -> None:
    lesson = make(1)
    assert store.record(lesson)
    got = store.recall("BTC/USDT", "1h", "ema crossover")
    assert len(got) == 1
    stored = got[0]
    assert stored.created_at.endswith("Z")
    assert stored.model_dump(exclude={"created_at"}) == lesson.model_dump(exclude={"created_at"})
    assert store.recent() == got


def test_one_lesson_per_experiment(store: LessonStore) -> None:
    assert store.record(make(1))
    assert not store.record(make(1, insight="a different story"))
    assert store.count() == 1
    assert store.recall("BTC/USDT", "1h", "story") == store.recall("BTC/USDT", "1h", "")


def test_append_only(store: LessonStore) -> None:
    store.record(make(1))
    con = sqlite3.connect(store.path)
    try:
        for sql in ("UPDATE lessons SET insight = 'rewritten'", "DELETE FROM lessons"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                con.execute(sql)
    finally:
        con.close()
    assert store.count() == 1


def test_full_text_relevance(store: LessonStore) -> None:
    # filler lessons make the query words rare, as in a real store
    for i in range(20):
        filler = make(i, family="macd_trend", insight=f"drawdown {i} too deep",
                      failed="floor.max_drawdown", hypothesis="MACD signal crosses")  # fmt: skip
        store.record(filler)
    store.record(make(100, family="zscore_reversion", insight="9 trades < 30",
                      failed="min_trades", hypothesis="Bollinger reversion on 1h"))  # fmt: skip
    store.record(make(101, family="rsi_reversion", insight="12 trades < 30; rsi too slow",
                      failed="min_trades", hypothesis="RSI(14) oversold bounce"))  # fmt: skip
    got = store.recall("BTC/USDT", "1h", "rsi reversion trades", k=3)
    # both trade-starved lessons first, the one matching every word ahead
    assert ids(got)[:2] == ["exp-101", "exp-100"]
    assert store.recall("BTC/USDT", "1h", "bollinger", k=1)[0].experiment_id == "exp-100"


def test_filters_this_market_first(store: LessonStore) -> None:
    store.record(make(1, symbol="ETH/USDT", insight="rsi oversold bounce works"))
    store.record(make(2, symbol="BTC/USDT", insight="nothing relevant here"))
    store.record(make(3, timeframe="4h", insight="rsi oversold bounce works"))
    store.record(make(4, symbol="BTC/USDT", timeframe="1d", insight="rsi oversold bounce"))
    got = store.recall("BTC/USDT", "1h", "rsi oversold bounce", k=10)
    # same timeframe only; this symbol's lesson first even though the other matches better
    assert ids(got) == ["exp-002", "exp-001"]
    assert ids(store.recall("SOL/USDT", "1h", "rsi", k=10)) == ["exp-001", "exp-002"]
    assert store.recall("BTC/USDT", "5m", "rsi") == []
    assert store.recall("BTC/USDT", "1h", "rsi", k=0) == []


def test_recency_and_regime_break_text_ties(store: LessonStore) -> None:
    for i in range(6):
        store.record(make(i, regime="trend_up" if i == 1 else "range"))
    got = store.recall("BTC/USDT", "1h", "ema crossover", k=6)
    assert ids(got) == ["exp-005", "exp-004", "exp-003", "exp-002", "exp-001", "exp-000"]
    got = store.recall("BTC/USDT", "1h", "ema crossover", k=6, regime="trend_up")
    assert ids(got)[0] == "exp-001"
    assert ids(got)[1:] == ["exp-005", "exp-004", "exp-003", "exp-002", "exp-000"]
    # a much older lesson that matches the query beats recent ones that do not
    store.record(make(50, insight="done", hypothesis="x"))
    assert ids(store.recall("BTC/USDT", "1h", "ema crossover", k=1)) == ["exp-005"]


def test_recall_is_deterministic_and_query_safe(store: LessonStore) -> None:
    for i in range(10):
        store.record(make(i, insight=f"insight {i % 3}"))
    a = store.recall("BTC/USDT", "1h", 'insight "1" OR NOT AND (* :', k=10)
    b = store.recall("BTC/USDT", "1h", 'insight "1" OR NOT AND (* :', k=10)
    assert ids(a) == ids(b) and len(a) == 10
    assert query_terms('Insight "1" OR ema-cross BTC/USDT') == [
        "insight", "1", "or", "ema", "cross", "btc", "usdt",
    ]  # fmt: skip


def test_index_built_for_lessons_written_without_fts(tmp_path: Path) -> None:
    if not fts5_available():
        pytest.skip("this Python's SQLite has no FTS5")
    path = tmp_path / "rara.db"
    with LessonStore(path, fts=False) as plain:
        plain.record(make(1, insight="rsi oversold bounce"))
        plain.record(make(2, insight="nothing"))
    with LessonStore(path) as fts:
        assert fts.fts_enabled
        fts.record(make(3, insight="nothing either"))
        assert ids(fts.recall("BTC/USDT", "1h", "oversold", k=1)) == ["exp-001"]


def test_recall_hides_by_iteration_as_a_number(store: LessonStore) -> None:
    """As of iteration 10,000 a run's iteration 9,999 is visible and 10,000 is not: the ids'
    text order says otherwise ("run-x-10000" < "run-x-9999")."""
    for i in (9_999, 10_000):
        lesson = make(i).model_copy(
            update={"experiment_id": experiment_id("run-x", i), "run_id": "run-x"}
        )
        store.record(lesson)
    seen = store.recall("BTC/USDT", "1h", "", k=5, hide=("run-x", 10_000))
    assert ids(seen) == [experiment_id("run-x", 9_999)]
    assert ids(store.recall("BTC/USDT", "1h", "", k=5, hide=("run-x", 9_999))) == []
    assert len(store.recall("BTC/USDT", "1h", "", k=5, hide=("other-run", 0))) == 2


LEGACY_SCHEMA = """
CREATE TABLE lessons (
    id INTEGER PRIMARY KEY, experiment_id TEXT NOT NULL UNIQUE, run_id TEXT NOT NULL,
    hypothesis TEXT NOT NULL, family TEXT NOT NULL, symbol TEXT NOT NULL, timeframe TEXT NOT NULL,
    regime TEXT NOT NULL, outcome TEXT NOT NULL, failed_check TEXT, validation_sharpe REAL,
    insight TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TRIGGER lessons_no_update BEFORE UPDATE ON lessons
BEGIN SELECT RAISE(ABORT, 'lessons are append-only'); END;
CREATE TABLE experiments (experiment_id TEXT NOT NULL UNIQUE, validation_trades INTEGER);
"""


@pytest.mark.parametrize("fts", [True, False], ids=["fts5", "fallback"])
def test_a_database_from_before_structured_lessons_is_migrated(tmp_path: Path, fts: bool) -> None:
    """Rows written before the structured columns read back typed: the loop's reason word becomes
    `failure` and its gate check `failed_check`, the iteration comes from the id, the trade count
    from the experiment row; the table stays append-only."""
    if fts and not fts5_available():
        pytest.skip("this Python's SQLite has no FTS5")
    path = tmp_path / "rara.db"
    con = sqlite3.connect(path)
    con.executescript(LEGACY_SCHEMA)
    old = [
        ("run-old-0011", "sandbox.lint_failed", None),
        ("run-old-0012", "floor.sharpe", 7),
        ("run-old-0013", "holdout.sharpe", 44),
    ]
    for eid, failed, trades in old:
        con.execute(
            "INSERT INTO lessons (experiment_id, run_id, hypothesis, family, symbol, timeframe, "
            "regime, outcome, failed_check, validation_sharpe, insight, created_at) VALUES "
            "(?, 'run-old', 'h', 'ma_cross', 'BTC/USDT', '1h', 'range', 'rejected', ?, 0.3, "
            "'old insight', '2026-01-01T00:00:00.000000Z')",
            (eid, failed),
        )
        con.execute("INSERT INTO experiments VALUES (?, ?)", (eid, trades))
    con.commit()
    con.close()
    with LessonStore(path, fts=fts) as s:
        got = {x.experiment_id: x for x in s.recent()}
        s.record(make(1))
        assert s.count() == 4
        hidden = s.recall("BTC/USDT", "1h", "", k=10, hide=("run-old", 12))
    lint, floor, holdout = (got[eid] for eid, _, _ in old)
    assert (lint.iteration, lint.failed_check, lint.failure) == (
        11,
        "sandbox",
        "sandbox.lint_failed",
    )
    assert (floor.failed_check, floor.failure, floor.validation_trades) == ("floor.sharpe",) * 2 + (
        7,
    )
    assert lint.validation_trades is None
    # a holdout check's name would tell the proposer how the holdout went, and so would the
    # rejection: every check before the holdout passed
    assert holdout.failed_check is None and holdout.failure is None
    assert holdout.outcome == "passed_checks" and floor.outcome == "rejected"
    assert ids(hidden) == ["exp-001", "run-old-0011"]
    con = sqlite3.connect(path)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute("UPDATE lessons SET insight = 'rewritten'")
    finally:
        con.close()


@pytest.mark.parametrize("fts", [True, False], ids=["fts5", "fallback"])
def test_lessons_that_say_how_the_holdout_decided_are_relabelled(tmp_path: Path, fts: bool) -> None:
    """Lessons written while they kept the real decision: a promotion, and a rejection by the
    holdout (no learnable failure), both become "passed_checks" once; the rest stay as they were,
    the index follows, and the table stays append-only."""
    if fts and not fts5_available():
        pytest.skip("this Python's SQLite has no FTS5")
    path = tmp_path / "rara.db"
    with LessonStore(path, fts=fts) as s:
        s.record(make(1, outcome="rejected", failed="floor.sharpe"))
    con = sqlite3.connect(path)
    for i, outcome in ((2, "paper_candidate"), (3, "rejected")):
        con.execute(
            "INSERT INTO lessons (experiment_id, run_id, iteration, hypothesis, family, symbol, "
            "timeframe, regime, outcome, failed_check, failure, validation_sharpe, insight, "
            "created_at) VALUES (?, 'run-1', ?, 'h', 'ma_cross', 'BTC/USDT', '1h', 'range', ?, "
            "NULL, NULL, 1.5, 'ok', '2026-01-01T00:00:00.000000Z')",
            (f"exp-{i:03d}", i, outcome),
        )
    con.commit()
    con.close()
    for _ in range(2):  # the second open finds nothing left to relabel
        with LessonStore(path, fts=fts) as s:
            got = {x.experiment_id: x.outcome for x in s.recent()}
            found = ids(s.recall("BTC/USDT", "1h", "paper candidate", k=3))
            passed = s.recall("BTC/USDT", "1h", "passed_checks", k=3)
        assert got == {
            "exp-001": "rejected",
            "exp-002": "passed_checks",
            "exp-003": "passed_checks",
        }
        # the old words match nothing any more (newest first), the new ones rank first
        assert found == ["exp-003", "exp-002", "exp-001"]
        assert ids(passed)[:2] == ["exp-003", "exp-002"]
    con = sqlite3.connect(path)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute("UPDATE lessons SET outcome = 'paper_candidate'")
    finally:
        con.close()


def test_two_stores_share_the_db(tmp_path: Path) -> None:
    path = tmp_path / "rara.db"
    with LessonStore(path) as a, LessonStore(path) as b:
        a.record(make(1))
        b.record(make(2))
        assert a.count() == b.count() == 2


# -- regime tagger -------------------------------------------------------------------------------


def series(log_returns: np.ndarray, bar_ms: int = HOUR) -> Candles:
    close = 100.0 * np.exp(np.cumsum(log_returns))
    ts = np.arange(close.size, dtype=np.int64) * bar_ms
    return Candles(ts, close.copy(), close * 1.001, close * 0.999, close, np.ones(close.size))


def test_tagger_on_made_up_markets() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    calm = 0.004  # per hour: ~37 % a year
    assert tag_regime(series(rng.normal(0.0004, calm, n))) == "trend_up"
    assert tag_regime(series(rng.normal(-0.0004, calm, n))) == "trend_down"
    # mean-reverting around a level: no drift, calm
    ou = np.zeros(n)
    for t in range(1, n):
        ou[t] = 0.9 * ou[t - 1] + rng.normal(0, 0.01)
    assert tag_regime(series(np.diff(ou, prepend=0.0))) == "range"
    # violent either way: ~150 % a year, and a strong drift does not hide it
    assert tag_regime(series(rng.normal(0.0, 0.016, n))) == "high_volatility"
    assert tag_regime(series(rng.normal(0.001, 0.016, n))) == "high_volatility"
    r = measure_regime(series(rng.normal(0.0004, calm, n)))
    assert 0.3 < r.annual_vol < 0.45 and r.trend_z > 1.0 and r.bars == n - 1
    assert tag_regime(series(np.zeros(2))) == "range"  # too short to say anything


def test_tagger_window_reads_the_recent_past() -> None:
    rng = np.random.default_rng(1)
    up = rng.normal(0.0006, 0.004, 1500)
    flat = np.diff(0.002 * np.sin(np.arange(301) / 10.0))
    c = series(np.concatenate([up, flat]))
    assert tag_regime(c) == "trend_up"
    assert tag_regime(c, window=300) == "range"


def test_tagger_on_synthetic_turbulence() -> None:
    """The synthetic market's turbulent regime (7 % a day) reads as high volatility and its calm
    bull regime does not."""
    s = generate(20_000, "1h", seed=5)
    names = list(s.regime_names)
    found = set()
    for name, want in (("turbulent", {"high_volatility"}),
                       ("bull", {"trend_up", "range", "trend_down"})):  # fmt: skip
        code = names.index(name)
        runs = np.flatnonzero(np.diff((s.regimes == code).astype(int)) != 0)
        edges = [0, *(runs + 1).tolist(), len(s.regimes)]
        for lo, hi in itertools.pairwise(edges):
            if s.regimes[lo] == code and hi - lo >= 100:
                assert tag_regime(s.candles.slice(lo, hi)) in want
                found.add(name)
    assert found == {"turbulent", "bull"}


@pytest.mark.parametrize(
    ("symbol", "want"),
    [("BTC/USDT", "range"), ("TRX/USDT", "trend_up"), ("DOGE/USDT", "high_volatility")],
)
def test_tagger_on_the_shipped_candles(tmp_path: Path, symbol: str, want: str) -> None:
    inst = Instrument(exchange="binance", symbol=symbol, timeframe=Timeframe.parse("1h"))
    candles = Catalog(tmp_path).load(inst)
    r = measure_regime(candles)
    assert r.regime == want, r
    assert 0.2 < r.annual_vol < 1.5 and r.bars == len(candles) - 1
