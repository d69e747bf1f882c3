"""The built-in proposer: its families render code that passes the same static check, sandbox and
look-ahead checks as LLM code; its search is deterministic for a seed, never repeats itself,
learns from rewards and from memory, and is cheap."""

from __future__ import annotations

import hashlib
import math
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rara.config import BacktestSettings, ResearchGateSettings
from rara.data.catalog import Catalog
from rara.domain.gate import LearningView
from rara.domain.market import Candles, Instrument, Timeframe
from rara.domain.strategy import source_sha256
from rara.research.builtin import BuiltinProposer, reward
from rara.research.builtin.catalogue import BASES, CATALOGUE
from rara.research.builtin.family import Family, all_families, family
from rara.research.builtin.space import Bias, Params, default_max_lookback
from rara.research.models import Candidate, ExperimentOutcome, Lesson, ProposerContext
from rara.research.ports import Proposer
from rara.research.reflect import reflect_report
from rara.runner.sandbox import EvaluationRequest, InProcessSandbox, candle_columns
from rara.services.backtest import judge_candidate
from rara.validation import lookahead
from rara.validation.gate import ResearchGate
from rara.validation.trials import TrialStore
from rara_sandbox.evaluate import evaluate
from rara_sandbox.lint import lint
from tests.kit.gate_reports import view

SYMBOL = "BTC/USDT"


def load(root: Path, timeframe: str) -> Candles:
    inst = Instrument(exchange="binance", symbol=SYMBOL, timeframe=Timeframe.parse(timeframe))
    return Catalog(root).load(inst)


@pytest.fixture(scope="module")
def btc_1h(tmp_path_factory: pytest.TempPathFactory) -> Candles:
    return load(tmp_path_factory.mktemp("data"), "1h")


@pytest.fixture(scope="module")
def btc_1d(tmp_path_factory: pytest.TempPathFactory) -> Candles:
    return load(tmp_path_factory.mktemp("data"), "1d")


def ctx_for(
    iteration: int,
    history: list[ExperimentOutcome] | None = None,
    lessons: list[Lesson] | None = None,
    timeframe: str = "1h",
    seed: int = 7,
) -> ProposerContext:
    return ProposerContext(
        run_id="run-test", iteration=iteration, seed=seed, exchange="binance", symbol=SYMBOL,
        timeframe=timeframe, regime="range", history=history or [], lessons=lessons or [],
    )  # fmt: skip


def synthetic_score(cand: Candidate) -> tuple[float, int]:
    """A made-up market: zscore_reversion families earn, the rest lose; noise from the source."""
    h = int(hashlib.sha256(cand.source.encode()).hexdigest()[:8], 16)
    noise = (h % 1000) / 1000.0 - 0.5
    good = cand.hypothesis.family.startswith("zscore_reversion")
    return (2.0 if good else -1.0) + noise, 40 + h % 20


def outcome_for(i: int, cand: Candidate, sharpe: float, trades: int) -> ExperimentOutcome:
    return ExperimentOutcome(
        experiment_id=f"exp-{i:04d}", iteration=i, family=cand.hypothesis.family,
        origin=cand.origin, params=cand.params, source_sha256=source_sha256(cand.source),
        outcome="rejected", failed_check="floor.sharpe", validation_sharpe=sharpe,
        validation_trades=trades,
    )  # fmt: skip


def run(
    proposer: BuiltinProposer, n: int, lessons: list[Lesson] | None = None, timeframe: str = "1h"
) -> tuple[list[Candidate], list[ExperimentOutcome]]:
    cands: list[Candidate] = []
    history: list[ExperimentOutcome] = []
    for i in range(n):
        c = proposer.propose(ctx_for(i, history, lessons, timeframe)).candidate
        cands.append(c)
        history.append(outcome_for(i, c, *synthetic_score(c)))
    return cands, history


def draws(fam: Family, rng: np.random.Generator, n: int, cap: int) -> list[Params]:
    """Samples, mutations and crossovers, with steering both ways: what propose() can emit."""
    out: list[Params] = []
    for i in range(n):
        bias = Bias(speed=float(rng.uniform(-0.8, 0.8)), p_stop=float(rng.uniform(0.2, 0.9)))
        p = fam.sample(rng, bias, cap)
        if i % 3 == 1:
            p = fam.mutate(p, rng, cap, scale=2.0, bias=bias)
        elif i % 3 == 2:
            p = fam.crossover(p, fam.sample(rng, bias, cap), rng, cap)
        out.append(p)
    return out


# -- the catalogue --------------------------------------------------------------------------------


def test_catalogue_covers_the_styles() -> None:
    styles = {c.style for c in BASES.values()}
    assert {"trend", "breakout", "mean_reversion", "momentum", "calendar"} <= styles
    assert len(BASES) >= 9
    names = {f.name for f in all_families()}
    assert len(names) == 36 and set(CATALOGUE) <= names
    assert any("+vol" in n for n in CATALOGUE) and any("+trend" in n for n in CATALOGUE)
    assert family("ma_cross+vol+trend") is None  # one spelling per family: filters in order
    assert family("nope") is None and family("ma_cross+nope") is None


def test_every_family_renders_code_that_lints_and_runs(btc_1h: Candles) -> None:
    rng = np.random.default_rng(2024)
    cols = candle_columns(btc_1h)
    n = 0
    for fam in all_families():
        for params in draws(fam, rng, 6, 1000):
            source = fam.render(params, "1h")
            report = lint(source)
            assert report.ok, (fam.name, report.summary())
            res = evaluate(source, cols)
            assert res.ok, (fam.name, params, res.error)
            meta = res.meta
            assert meta is not None
            assert meta["name"] == fam.strategy_name(params)
            assert meta["name"].startswith(fam.name.replace("+", "_") + "_")
            assert (meta["version"], meta["api_version"], meta["timeframe"]) == ("1.0.0", 1, "1h")
            assert meta["lookback"] == fam.lookback(params) <= 1000
            assert meta["params"] == params
            assert fam.accepts(params)
            full = res.windows[-1]
            assert full.entries.dtype == np.bool_ and full.entries.shape == (len(btc_1h),)
            assert "risk_levels" in source or "stop_loss" not in params
            n += 1
    assert n == 36 * 6


@pytest.mark.parametrize("timeframe", ["1h", "1d"])
def test_declared_lookbacks_are_honest(timeframe: str, btc_1h: Candles, btc_1d: Candles) -> None:
    """Truncation, perturbation and warm-up checks, run as the gate runs them, all pass."""
    candles = btc_1h if timeframe == "1h" else btc_1d
    cap = default_max_lookback(timeframe)
    sandbox = InProcessSandbox()
    plan = lookahead.plan(len(candles), seed=3)
    rng = np.random.default_rng(17)
    checked = 0
    for fam in all_families():
        if fam.min_lookback() > cap:
            continue
        for params in draws(fam, rng, 3 if timeframe == "1h" else 2, cap):
            res = sandbox.evaluate(
                EvaluationRequest(
                    source=fam.render(params, timeframe),
                    candles=candles,
                    windows=plan.windows,
                    probes=plan.probes,
                )
            )
            assert res.ok and res.meta is not None, (fam.name, res.error)
            outcomes = lookahead.check(res, int(res.meta["lookback"])).learnable
            assert [o.name for o in outcomes] == ["truncation", "perturbation", "warmup"]
            failed = [o.detail for o in outcomes if not o.passed]
            assert not failed, (fam.name, params, failed)
            checked += 1
    assert checked >= (60 if timeframe == "1h" else 30)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("rsi_reversion", {"rsi_period": 14, "oversold": 30.0, "exit_level": 55.0}),
        ("macd_trend", {"fast": 12, "slow": 26, "signal": 9}),
        ("donchian_breakout", {"entry": 55, "exit": 20, "atr_period": 14, "atr_mult": 2.5}),
    ],
)
def test_the_lookback_rule_is_needed(name: str, params: Params, btc_1h: Candles) -> None:
    """The warm-up check is not vacuous: the same module declaring only its longest window (too
    short for Wilder's RSI/ATR or an EMA to forget its start) is rejected; the rule's passes."""
    fam = family(name)
    assert fam is not None
    params = fam.fit(params, 1000)
    honest = fam.render(params, "1h")
    naive = max(int(params[q.name]) for q in fam.space(params) if q.kind == "int") + 2
    short = honest.replace(f'"lookback": {fam.lookback(params)},', f'"lookback": {naive},')
    assert short != honest
    plan = lookahead.plan(len(btc_1h), seed=0)
    sandbox = InProcessSandbox()
    verdicts = {}
    for label, src in (("honest", honest), ("short", short)):
        res = sandbox.evaluate(
            EvaluationRequest(source=src, candles=btc_1h, windows=plan.windows, probes=plan.probes)
        )
        assert res.ok and res.meta is not None
        outcomes = lookahead.check(res, res.meta["lookback"]).learnable
        verdicts[label] = {o.name: o.passed for o in outcomes}
    assert all(verdicts["honest"].values())
    assert verdicts["short"] == {"truncation": True, "perturbation": True, "warmup": False}


def test_lookback_cap_and_feasibility() -> None:
    proposer = BuiltinProposer(seed=1)
    cands, _ = run(proposer, 40, timeframe="1d")
    for c in cands:
        fam = family(c.hypothesis.family)
        assert fam is not None and c.params is not None
        assert fam.lookback(c.params) <= default_max_lookback("1d")
    # a cap too small for the ATR-based families leaves them out of the arms
    small = BuiltinProposer(seed=1, max_lookback=60)
    fams = {c.hypothesis.family for c in run(small, 30)[0]}
    assert fams and not any(f.startswith(("donchian", "macd")) for f in fams)


# -- parameter moves ------------------------------------------------------------------------------


def test_mutation_and_crossover_stay_in_bounds() -> None:
    rng = np.random.default_rng(5)
    for fam in all_families():
        parents = [fam.sample(rng, Bias(), 1000) for _ in range(4)]
        for i in range(60):
            a, b = parents[i % 4], parents[(i + 1) % 4]
            bias = Bias(speed=float(rng.uniform(-1, 1)))
            child = (
                fam.mutate(a, rng, 1000, scale=3.0, bias=bias)
                if i % 2
                else fam.crossover(a, b, rng, 1000)
            )
            assert fam.accepts(child), (fam.name, child)
            assert fam.fit(child, 1000) == child  # constraints already hold: repair is a no-op
            assert fam.lookback(child) <= 1000
            p = child
            if fam.base.name == "ma_cross":
                assert p["slow"] >= 1.5 * p["fast"]  # type: ignore[operator]
            if fam.base.name == "donchian_breakout":
                assert p["exit"] < p["entry"]  # type: ignore[operator]
            if fam.base.name == "rsi_reversion":
                assert p["exit_level"] >= p["oversold"] + 10  # type: ignore[operator]
            if "take_profit" in p:
                assert "stop_loss" in p and p["take_profit"] >= 1.5 * p["stop_loss"] - 1e-9  # type: ignore[operator]
            if fam.filters and fam.filters[-1].name == "vol":
                assert p["vol_long"] >= 3 * p["vol_window"]  # type: ignore[operator]


def test_mutation_moves_locally() -> None:
    fam = family("donchian_breakout")
    assert fam is not None
    rng = np.random.default_rng(9)
    parent = fam.fit({"entry": 60, "exit": 20, "atr_period": 14, "atr_mult": 2.5}, 1000)
    children = [fam.mutate(parent, rng, 1000) for _ in range(200)]
    assert all(c != parent for c in children)
    entries = [int(c["entry"]) for c in children]
    assert 40 <= statistics.median(entries) <= 80  # stays near the parent's 60


# -- determinism, no repeats ---------------------------------------------------------------------


def test_same_seed_same_candidates_byte_for_byte() -> None:
    a, _ = run(BuiltinProposer(seed=11), 60)
    b, _ = run(BuiltinProposer(seed=11), 60)
    assert [c.source for c in a] == [c.source for c in b]
    assert [c.model_dump() for c in a] == [c.model_dump() for c in b]
    c, _ = run(BuiltinProposer(seed=12), 60)
    assert [x.source for x in a] != [x.source for x in c]


def test_seed_none_takes_the_run_seed() -> None:
    p = BuiltinProposer()
    assert (
        p.propose(ctx_for(0, seed=5)).candidate.source
        == BuiltinProposer(seed=5).propose(ctx_for(0, seed=99)).candidate.source
    )


def test_a_resumed_run_redraws_the_same_candidate() -> None:
    """A fresh proposer (nothing cached) given iteration i and the same history proposes what
    the long-running one did; so does the long-running one asked again."""
    long_running = BuiltinProposer(seed=3)
    cands, history = run(long_running, 50)
    for i in (0, 13, 31, 49):
        ctx = ctx_for(i, history[:i])
        assert BuiltinProposer(seed=3).propose(ctx).candidate.source == cands[i].source
        assert long_running.propose(ctx).candidate.model_dump() == cands[i].model_dump()


def test_never_the_same_candidate_twice() -> None:
    cands, _ = run(BuiltinProposer(seed=21), 250)
    shas = [source_sha256(c.source) for c in cands]
    assert len(set(shas)) == len(shas)
    keys = {(c.hypothesis.family, tuple(sorted((c.params or {}).items()))) for c in cands}
    assert len(keys) == len(cands)
    origins = Counter(c.origin for c in cands)
    assert set(origins) == {
        "builtin:explore",
        "builtin:mutate",
        "builtin:recombine",
        "builtin:wrap",
    }
    for c in cands:
        if c.origin != "builtin:explore":
            assert c.parent is not None and c.parent.startswith("exp-")


def test_tolerates_foreign_history() -> None:
    """Outcomes of other proposers (unknown families, our family names with other params,
    errors without params) neither crash the search nor become parents."""
    foreign: list[tuple[str, dict[str, Any] | None, str, float | None]] = [
        ("llm_custom", {"a": 1}, "rejected", 3.0),
        ("ma_cross", {"fast": 5}, "rejected", 3.0),
        ("none", None, "error", None),
        ("ma_cross", {"kind": "wma", "fast": 5, "slow": 20}, "rejected", 3.0),
    ]
    history = [
        ExperimentOutcome.model_validate(
            {
                "experiment_id": f"x{i}",
                "iteration": i,
                "family": fam,
                "origin": "llm",
                "params": params,
                "source_sha256": f"{i:064x}",
                "outcome": outcome,
                "validation_sharpe": vs,
            }
        )
        for i, (fam, params, outcome, vs) in enumerate(foreign * 8)
    ]
    p = BuiltinProposer(seed=1)
    for i in range(30):
        c = p.propose(ctx_for(len(history) + i, history)).candidate
        assert c.parent is None or not c.parent.startswith("x")
        assert family(c.hypothesis.family) is not None


# -- learning ------------------------------------------------------------------------------------


def _history_where(good: str, sharpe_good: float, sharpe_bad: float) -> list[ExperimentOutcome]:
    """Three trials of every catalogue family; ``good`` scores ``sharpe_good``."""
    p = BuiltinProposer(seed=0)
    out: list[ExperimentOutcome] = []
    rng = np.random.default_rng(0)
    for name in CATALOGUE:
        fam = family(name)
        assert fam is not None
        for _ in range(3):
            params = fam.sample(rng, Bias(), 1000)
            src = fam.render(params, "1h")
            cand = Candidate.model_validate(
                {"hypothesis": {"hypothesis": "h", "rationale": "r", "family": name},
                 "source": src, "params": params, "origin": "builtin:explore"}
            )  # fmt: skip
            sharpe = sharpe_good if name == good else sharpe_bad
            out.append(outcome_for(len(out), cand, sharpe, 50))
    assert p.name == "builtin"
    return out


def _shares(history: list[ExperimentOutcome], n: int = 150) -> Counter[str]:
    p = BuiltinProposer(seed=4)
    return Counter(
        p.propose(ctx_for(len(history) + i, history)).candidate.hypothesis.family for i in range(n)
    )


def test_bandit_shifts_towards_the_rewarded_family() -> None:
    good = "rsi_reversion+trend"
    neutral = _shares(_history_where(good, 0.0, 0.0))
    rewarded = _shares(_history_where(good, 2.5, -1.0))
    share_neutral = neutral[good] / 150
    # what the rewarded family earns: itself, mutated, or wrapped with another filter
    share_rewarded = sum(v for k, v in rewarded.items() if k.startswith("rsi_reversion")) / 150
    assert share_neutral < 0.25
    assert share_rewarded > 0.7, rewarded


def test_forecast_follows_the_posterior() -> None:
    good = "zscore_reversion"
    history = _history_where(good, 2.5, -1.0)
    p = BuiltinProposer(seed=4)
    for i in range(40):
        c = p.propose(ctx_for(len(history) + i, history)).candidate
        f = c.hypothesis.forecast
        assert f.validation_sharpe is not None and f.pass_probability is not None
        assert 0.0 <= f.pass_probability <= 1.0
        if c.hypothesis.family == good:
            assert f.validation_sharpe > 1.0
        elif c.parent is None and c.hypothesis.family in CATALOGUE:
            assert f.validation_sharpe < 0.0
        elif c.parent is not None:  # a child of a good trial in a poor family: in between
            assert -1.0 < f.validation_sharpe < 2.5


def lesson(fam: str, outcome: str, failed: str | None, sharpe: float | None, i: int) -> Lesson:
    return Lesson(
        experiment_id=f"old-{fam}-{i}", run_id="old", iteration=i, hypothesis="h", family=fam,
        symbol=SYMBOL,
        timeframe="1h", regime="range", outcome=outcome, failed_check=failed,
        validation_sharpe=sharpe, insight="i",
    )  # fmt: skip


def _first_picks(lessons: list[Lesson], n: int = 200) -> Counter[str]:
    picks = (BuiltinProposer(seed=s).propose(ctx_for(0, [], lessons)).candidate for s in range(n))
    return Counter(c.hypothesis.family for c in picks)


def test_lessons_set_family_priors() -> None:
    bad = [lesson("ma_cross", "error", "sandbox", None, i) for i in range(4)]
    bad += [lesson("macd_trend", "rejected", "floor.sharpe", -2.5, i) for i in range(4)]
    good = [lesson("zscore_reversion", "rejected", "deflated_sharpe", 2.5, i) for i in range(4)]
    plain = _first_picks([])
    steered = _first_picks(bad + good)
    assert plain["ma_cross"] > 5 and plain["macd_trend"] > 5
    assert (
        steered["ma_cross"] + steered["macd_trend"] < (plain["ma_cross"] + plain["macd_trend"]) / 3
    )
    assert steered["zscore_reversion"] > 2 * plain["zscore_reversion"]
    c = BuiltinProposer(seed=1).propose(ctx_for(0, [], bad + good)).candidate
    assert "memory:" in c.hypothesis.rationale


def _speed_position(cands: list[Candidate]) -> float:
    """Mean position (0 = fastest end, 1 = slowest) of every period param in its range."""
    pos = []
    for c in cands:
        fam = family(c.hypothesis.family)
        assert fam is not None and c.params is not None
        for q in fam.base.params:
            if q.kind == "int" and q.speed == -1:
                v = float(c.params[q.name])
                pos.append(math.log(v / q.lo) / math.log((q.hi + 1) / q.lo))
    return float(np.mean(pos))


def test_min_trades_lessons_push_towards_faster_params() -> None:
    few = [lesson("llm_custom", "rejected", "min_trades", 1.5, i) for i in range(12)]
    costly = [lesson("llm_custom", "rejected", "costs_doubled", 0.5, i) for i in range(12)]
    n = 150
    plain = [BuiltinProposer(seed=s).propose(ctx_for(0)).candidate for s in range(n)]
    faster = [BuiltinProposer(seed=s).propose(ctx_for(0, [], few)).candidate for s in range(n)]
    slower = [BuiltinProposer(seed=s).propose(ctx_for(0, [], costly)).candidate for s in range(n)]
    assert _speed_position(faster) < _speed_position(plain) - 0.1
    assert _speed_position(slower) > _speed_position(plain) + 0.1
    # the loop records only the first failed check; the lesson's trade count still tells the
    # shortfall
    hidden = [
        lesson("llm_custom", "rejected", "floor.sharpe", 0.4, i).model_copy(
            update={"validation_trades": 5}
        )
        for i in range(12)
    ]
    also_faster = [
        BuiltinProposer(seed=s).propose(ctx_for(0, [], hidden)).candidate for s in range(n)
    ]
    assert _speed_position(also_faster) < _speed_position(plain) - 0.1
    # prose is for people: an insight that says "5 trades < 30" steers nothing by itself
    prose = [
        lesson("llm_custom", "rejected", "floor.sharpe", 0.4, i).model_copy(
            update={"insight": "x a=1: validation Sharpe 0.4 < 1; 5 trades < 30"}
        )
        for i in range(12)
    ]
    plain_floor = [
        BuiltinProposer(seed=s)
        .propose(
            ctx_for(
                0, [], [lesson("llm_custom", "rejected", "floor.sharpe", 0.4, i) for i in range(12)]
            )
        )
        .candidate
        for s in range(n)
    ]
    by_prose = [BuiltinProposer(seed=s).propose(ctx_for(0, [], prose)).candidate for s in range(n)]
    assert by_prose == plain_floor


def test_reward_shape() -> None:
    assert reward("error", None, None) < reward("rejected", "floor.sharpe", -1.0, 40)
    assert reward("rejected", "lookahead.warmup", 2.0) == -3.0
    assert reward("rejected", "floor.sharpe", 9.0, 40) == 3.0  # clipped
    # a great Sharpe on a handful of trades is worth less than a modest one that can pass
    assert reward("rejected", "min_trades", 3.0, 3) < reward("rejected", "floor.sharpe", 0.8, 40)
    assert reward("passed_checks", None, 1.5, 40) == 2.5


# -- the rest of the protocol --------------------------------------------------------------------


def test_protocol_propose_fix_reflect() -> None:
    p: Proposer = BuiltinProposer(seed=1)
    ctx = ctx_for(0)
    c = p.propose(ctx).candidate
    assert p.propose(ctx).calls == []  # the built-in search calls no LLM
    assert p.fix(ctx, c, "lint_failed: boom", 1, 3) is None
    report = view(
        [
            {"name": "sandbox", "passed": True, "value": "ok"},
            {"name": "lookahead.warmup", "passed": True},
            {"name": "floor.sharpe", "passed": False, "value": 0.4, "threshold": 1.0},
            {"name": "min_trades", "passed": False, "value": 12, "threshold": 30},
            {"name": "pbo", "passed": True, "skipped": True},
            {"name": "holdout.sharpe", "passed": False, "value": -3.0, "threshold": 0.0},
        ],
        sharpe=0.4,
        trades=12,
    )
    reflection = p.reflect(ctx, c, report)
    line = reflection.insight
    assert reflection.calls == []
    assert line.startswith(c.hypothesis.family + " ")
    assert "validation Sharpe 0.4 < 1" in line and "12 trades < 30" in line
    assert "holdout" not in line and "-3" not in line and "\n" not in line
    broken = view(
        [
            {
                "name": "sandbox",
                "passed": False,
                "value": "runtime_error",
                "detail": "ValueError: boom",
            }
        ]
    )
    assert "sandbox runtime_error: ValueError: boom" in p.reflect(ctx, c, broken).insight
    passed = view([{"name": "floor.sharpe", "passed": True, "value": 1.4}], sharpe=1.4, trades=44)
    assert (
        "passed research checks (validation Sharpe 1.4, 44 trades)"
        in p.reflect(ctx, c, passed).insight
    )


def test_reflect_on_a_real_gate_report(btc_1h: Candles, tmp_path: Path) -> None:
    gate = ResearchGate(TrialStore(tmp_path / "t.db"), ResearchGateSettings(), BacktestSettings())
    inst = Instrument(exchange="binance", symbol=SYMBOL, timeframe=Timeframe.parse("1h"))
    p = BuiltinProposer(seed=2)
    for i in range(3):
        c = p.propose(ctx_for(i)).candidate
        report = judge_candidate(
            InProcessSandbox(),
            gate,
            name=c.hypothesis.family,
            source=c.source,
            candles=btc_1h,
            inst=inst,
        )
        assert report.checks[0].name == "sandbox" and report.checks[0].passed
        assert all(ch.passed for ch in report.checks if ch.name.startswith("lookahead"))
        line = reflect_report(c, LearningView.of(report))
        assert line.startswith(c.hypothesis.family) and "\n" not in line and len(line) <= 300


def test_hypothesis_text() -> None:
    fam = family("ma_cross")
    assert fam is not None
    params = fam.fit({"kind": "ema", "fast": 12, "slow": 48}, 1000)
    assert fam.hypothesis(params, "1h", SYMBOL) == (
        "EMA(12)/EMA(48) crossover captures 1h trends in BTC/USDT"
    )
    wrapped = family("rsi_reversion+trend+vol")
    assert wrapped is not None
    p = wrapped.sample(np.random.default_rng(0), Bias(), 1000)
    text = wrapped.hypothesis(p, "1h", SYMBOL)
    assert text.startswith(f"RSI({p['rsi_period']})") and "trend" in text and "volatility" in text
