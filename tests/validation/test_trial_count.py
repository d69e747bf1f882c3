"""The DSR's trial count (issue 9, item 3): clustered over every market of the home, floored for
trials made outside rara, and not lowered by padding with near-duplicates.

Real components throughout: the shipped BTC/USDT 1h candles, the sma_crossover strategy in the
in-process sandbox, rara's backtest engine, the gate and a real SQLite state DB."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rara.backtest.engine import BacktestConfig, run_backtest
from rara.backtest.window import backtest_window
from rara.config import BacktestSettings
from rara.domain.gate import GateReport
from rara.domain.market import Candles, Instrument, Timeframe
from rara.domain.strategy import source_sha256
from rara.runner.sandbox import InProcessSandbox
from rara.services.backtest import evaluate_candidate, judge_candidate
from rara.validation import effective_trials
from rara.validation.effective_trials import (
    CLUSTER_CORRELATION,
    GroupClusters,
    count_trials,
    leader_clusters,
    null_sharpe_variance,
)
from rara.validation.gate import ResearchGate
from rara.validation.statistics import deflated_sharpe_ratio, sharpe_ratio
from rara.validation.trials import TrialKey, TrialStore
from tests.kit.candles import shipped_btc
from tests.kit.gates import opened_gate
from tests.kit.paths import EXAMPLES

# slow up to 120 bars (WEAK): the declared lookback must cover it, or warm-up fails first
SMA = (
    (EXAMPLES / "sma_crossover" / "strategy.py")
    .read_text()
    .replace('"lookback": 50', '"lookback": 130')
)
BTC = Instrument(exchange="binance", symbol="BTC/USDT", timeframe=Timeframe.parse("1h"))
# The floor checks opened so a weak candidate reaches the DSR; the DSR itself keeps its default.
REACHES_DSR = opened_gate("min_dsr")
WEAK = {"fast": 15, "slow": 120}  # a positive validation Sharpe on a handful of trades: weak


@pytest.fixture
def trials(tmp_path: Path) -> Iterator[TrialStore]:
    with TrialStore(tmp_path / "rara.db") as store:
        yield store


def judge(gate: ResearchGate, params: dict[str, Any], candles: Candles | None = None) -> GateReport:
    return judge_candidate(
        InProcessSandbox(),
        gate,
        name="sma",
        source=SMA,
        candles=candles if candles is not None else shipped_btc("1h"),
        inst=BTC,
        params=params,
    )


# ---- the clustering ---------------------------------------------------------------------------


def one_at_a_time(returns: np.ndarray, threshold: float) -> list[int]:
    """Leader clustering by its definition, trial by trial, in float64."""
    r = returns - returns.mean(axis=0)
    z = r / np.linalg.norm(r, axis=0)
    leaders: list[int] = []
    labels = []
    for j in range(z.shape[1]):
        corr = [float(z[:, i] @ z[:, j]) for i in leaders]
        if corr and max(corr) >= threshold:
            labels.append(int(np.argmax(corr)))
        else:
            leaders.append(j)
            labels.append(len(leaders) - 1)
    return labels


def families(rng: np.random.Generator, n_obs: int, n: int, bases: int) -> np.ndarray:
    """n series around `bases` independent ones, at correlations from about 0.6 to 1."""
    base = rng.normal(size=(n_obs, bases))
    picks = rng.integers(bases, size=n)
    noise = rng.normal(size=(n_obs, n)) * rng.uniform(0.0, 1.2, size=n)
    return np.asarray(base[:, picks] + noise)


@pytest.mark.parametrize("block", [1, 7, 512])
def test_blocked_clustering_is_the_one_at_a_time_definition(
    block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    returns = families(np.random.default_rng(3), 200, 400, 12)
    monkeypatch.setattr(effective_trials, "_BLOCK", block)
    labels, kept = leader_clusters(returns)
    assert kept.all()
    assert labels.tolist() == one_at_a_time(returns, CLUSTER_CORRELATION)
    assert 12 < labels.max() + 1 < 400  # some trials joined clusters, some led new ones


def test_near_duplicates_are_one_cluster_and_independent_trials_each_count() -> None:
    rng = np.random.default_rng(5)
    strategy = rng.normal(0, 0.01, 1000)
    near = strategy[:, None] + rng.normal(0, 0.001, (1000, 300))  # correlation about 0.995
    independent = rng.normal(0, 0.01, (1000, 50))  # |correlation| about 0.03
    flat = np.zeros((1000, 4))  # never traded: no Sharpe, no cluster
    labels, kept = leader_clusters(np.column_stack([strategy, near, independent, flat]))
    assert kept.sum() == 351
    assert set(labels[:301]) == {0}
    assert labels[301:].tolist() == list(range(1, 51))


def test_adding_trials_never_moves_earlier_ones() -> None:
    returns = families(np.random.default_rng(8), 150, 600, 20)
    whole = GroupClusters(150, 3_600_000)
    labels = whole.add(returns, np.zeros(600))
    grown = GroupClusters(150, 3_600_000)
    parts = [
        grown.add(returns[:, lo:hi], np.zeros(hi - lo)) for lo, hi in [(0, 1), (1, 333), (333, 600)]
    ]
    assert np.concatenate(parts).tolist() == labels.tolist()
    assert grown.k == whole.k


# ---- the floors -------------------------------------------------------------------------------


def test_a_fresh_home_does_not_make_n_one(trials: TrialStore) -> None:
    """One trial in the home: N is the floor for trials made outside rara, V the null's."""
    report = judge(ResearchGate(trials, REACHES_DSR, BacktestSettings()), WEAK)
    count = report.trial_count
    assert count is not None and report.n_trials == 1
    assert (count.raw, count.effective, count.floor, count.used) == (1, 1.0, 100, 100.0)
    n_obs = report.segments["validation"].metrics.bars
    assert count.sharpe_variance == pytest.approx(null_sharpe_variance(n_obs))
    dsr = report.check("deflated_sharpe")
    assert dsr is not None and not dsr.passed and dsr.value is not None
    assert "N = 100" in dsr.detail and "floor 100" in dsr.detail and "1 trials" in dsr.detail
    # what N = 1 and the spread of one trial (none) would have said: the candidate's PSR(0)
    evaluation = evaluate_candidate(InProcessSandbox(), SMA, shipped_btc("1h"), WEAK)
    gate = ResearchGate(trials, REACHES_DSR, BacktestSettings())
    lo, hi = gate.split(shipped_btc("1h")).validation
    cfg = BacktestConfig.from_settings("binance", BacktestSettings())
    result, _ = backtest_window(shipped_btc("1h"), evaluation.evaluation.windows[-1], lo, hi, cfg)
    unfloored = deflated_sharpe_ratio(result.returns, n_trials=1, trial_sharpe_variance=0.0)
    assert unfloored > 0.8 > 0.5 > dsr.value


def test_the_floor_is_a_setting_and_lowering_it_is_recorded(trials: TrialStore) -> None:
    loose = REACHES_DSR.model_copy(update={"min_trials": 1})
    report = judge(ResearchGate(trials, loose, BacktestSettings()), WEAK)
    assert report.trial_count is not None and report.trial_count.used == 1.0
    assert "gates.research.min_trials" in {w.setting for w in report.weakened}


def test_trials_on_every_market_of_the_home_count(trials: TrialStore) -> None:
    """Trials on other bars (another range, as `--start/--end` gives) and another market count
    too, each group clustered on its own bars."""
    gate = ResearchGate(trials, REACHES_DSR, BacktestSettings())
    candles = shipped_btc("1h")
    judge(gate, {"fast": 10, "slow": 120}, candles.slice(0, 4000))
    other = Instrument(exchange="binance", symbol="ETH/USDT", timeframe=Timeframe.parse("1h"))
    returns = np.random.default_rng(2).normal(0, 0.01, 1000)
    key = TrialKey(
        source_sha256="0" * 64,
        params={},
        exchange=other.exchange,
        symbol=other.symbol,
        timeframe="1h",
        segment="validation",
        start_ms=0,
        end_ms=999 * 3_600_000,
        fee=0.001,
        slippage=0.0005,
    )
    trials.record(key, "st_eth", returns, sharpe_ratio(returns), {})
    report = judge(gate, WEAK)
    count = report.trial_count
    assert count is not None and count.raw == report.n_trials == 3
    assert count.effective == 3.0 and "over 3 sets of bars" in count.scope


# ---- padding ----------------------------------------------------------------------------------


def near_duplicates(
    entries: np.ndarray, exits: np.ndarray, lo: int, hi: int, n: int, seed: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The candidate's signals with one entry or exit moved by a bar: what re-recording a
    strategy with a negligible tweak gives."""
    rng = np.random.default_rng(seed)
    marks = np.flatnonzero(entries[lo:hi] | exits[lo:hi]) + lo
    for _ in range(n):
        e, x = entries.copy(), exits.copy()
        at = int(rng.choice(marks))
        step = int(rng.choice([-1, 1]))
        for sig in (e, x):
            if sig[at]:
                sig[at], sig[at + step] = False, True
        yield e, x


def naive_dsr(trials: TrialStore, returns: np.ndarray) -> float:
    """The count as it was: N = every validation trial, V = the variance of their Sharpes."""
    sharpes = trials.sharpes(segment="validation")
    return deflated_sharpe_ratio(
        returns,
        n_trials=trials.count(segment="validation"),
        trial_sharpe_variance=float(np.var(sharpes, ddof=1)),
    )


@pytest.mark.parametrize("min_trials", [100, 1])
def test_padding_with_near_duplicates_does_not_raise_the_dsr(
    trials: TrialStore, min_trials: int
) -> None:
    """A weak candidate among 30 real trials, then 1,000 near-duplicates of it recorded as
    trials. Counted naively, the padding lifts its DSR; clustered, it cannot."""
    candles = shipped_btc("1h")
    settings = REACHES_DSR.model_copy(update={"min_trials": min_trials})
    gate = ResearchGate(trials, settings, BacktestSettings())
    for fast in (5, 10, 20, 30, 40):
        for slow in (50, 60, 90, 150, 200, 250):
            judge(gate, {"fast": fast, "slow": slow})
    before = judge(gate, WEAK)
    dsr_before = before.check("deflated_sharpe")
    assert dsr_before is not None and dsr_before.value is not None

    checked = evaluate_candidate(InProcessSandbox(), SMA, candles, WEAK)
    window = checked.evaluation.windows[-1]
    lo, hi = gate.split(candles).validation
    cfg = BacktestConfig.from_settings("binance", BacktestSettings())
    own, _ = backtest_window(candles, window, lo, hi, cfg)
    naive_before = naive_dsr(trials, own.returns)

    segment = candles.slice(lo, hi)
    correlations = []
    for i, (e, x) in enumerate(near_duplicates(window.entries, window.exits, lo, hi, 1000, 9)):
        returns = run_backtest(segment, e[lo:hi], x[lo:hi], cfg).returns
        correlations.append(float(np.corrcoef(returns, own.returns)[0, 1]))
        key = TrialKey(
            source_sha256=source_sha256(SMA),
            params={**WEAK, "pad": i},
            exchange="binance",
            symbol="BTC/USDT",
            timeframe="1h",
            segment="validation",
            start_ms=int(candles.ts[lo]),
            end_ms=int(candles.ts[hi - 1]),
            fee=cfg.fee,
            slippage=cfg.slippage,
        )
        trials.record(key, "st_pad", returns, sharpe_ratio(returns), {})
    assert min(correlations) > CLUSTER_CORRELATION  # near-duplicates indeed

    naive_after = naive_dsr(trials, own.returns)
    assert naive_after > naive_before + 0.05  # the attack works on the naive count
    after = judge(gate, WEAK)
    fresh = judge(ResearchGate(trials, settings, BacktestSettings()), WEAK)  # a new process
    dsr_after = after.check("deflated_sharpe")
    assert dsr_after is not None and dsr_after.value is not None
    assert dsr_after.value <= dsr_before.value
    assert after.trial_count == fresh.trial_count
    assert before.trial_count is not None and after.trial_count is not None
    assert after.trial_count.raw == before.trial_count.raw + 1000
    assert after.trial_count.effective == before.trial_count.effective
    assert after.trial_count.sharpe_variance == before.trial_count.sharpe_variance
    assert math.isclose(dsr_after.value, dsr_before.value, rel_tol=1e-12)


def test_the_clusters_variance_is_stricter_and_both_are_reported(trials: TrialStore) -> None:
    """V defaults to the null's (what luck gives a zero-edge trial); `dsr_variance = "clusters"`
    takes the larger of that and the clusters' spread. Both variances are in the report."""
    gate = ResearchGate(trials, REACHES_DSR, BacktestSettings())
    for fast, slow in ((5, 40), (10, 200), (30, 90), (8, 24)):
        judge(gate, {"fast": fast, "slow": slow})
    null = judge(gate, WEAK).trial_count
    strict_settings = REACHES_DSR.model_copy(update={"dsr_variance": "clusters"})
    strict = judge(ResearchGate(trials, strict_settings, BacktestSettings()), WEAK)
    count = strict.trial_count
    assert null is not None and count is not None
    assert null.variance_source == "null" and null.sharpe_variance == null.null_variance
    assert count.variance_source == "clusters"
    assert count.sharpe_variance == max(count.cluster_variance, count.null_variance)
    assert strict_settings.weakened() == REACHES_DSR.weakened()  # stricter is not weaker


def test_strategies_that_really_differ_spread_wider_than_luck() -> None:
    """Independent trials whose true Sharpes differ (here: drifts from -0.1 to 0.1 per bar)
    scatter far wider than the null 1/(T-1): the clusters' variance then sets the stricter bar."""
    rng = np.random.default_rng(7)
    n_obs, k = 2_000, 40
    returns = rng.standard_normal((n_obs, k)) + np.linspace(-0.1, 0.1, k)
    sharpes = returns.mean(axis=0) / returns.std(axis=0, ddof=1)
    group = GroupClusters(n_obs, 3_600_000, CLUSTER_CORRELATION)
    group.add(returns, sharpes)
    common = {"raw": k, "floor": 100, "period_ms": 3_600_000, "n_obs": n_obs, "scope": "test"}
    null = count_trials([group], **common)
    strict = count_trials([group], **common, variance="clusters")
    assert null.effective == strict.effective == k
    assert strict.cluster_variance > 5 * strict.null_variance
    assert null.sharpe_variance == null.null_variance < strict.sharpe_variance
