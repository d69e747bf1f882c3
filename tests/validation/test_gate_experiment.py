"""The honest gate against luck: 200 random strategies on synthetic candles with no edge.

The seed system's floor (validation Sharpe > 1 and drawdown < 15%) passes some of them by chance;
the full gate (look-ahead, trades, doubled costs, DSR over the real trial count, PBO, holdout)
must pass none. Seeded, so the counts are the same on every run."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest

from rara.config import Settings
from rara.data.synth import generate
from rara.domain.market import Instrument, Timeframe
from rara.runner.sandbox import JailSandbox
from rara.services.backtest import judge_candidate
from rara.validation.gate import ResearchGate
from rara.validation.trials import TrialStore
from tests.kit.paths import EXAMPLES

N_STRATEGIES = 200


def random_candidates(rng: np.random.Generator) -> Iterator[tuple[str, dict[str, object]]]:
    """Random families and parameters: a search with no knowledge, like an unguided loop."""
    for _ in range(N_STRATEGIES):
        family = ("sma_crossover", "rsi_mean_reversion", "donchian_breakout")[rng.integers(3)]
        if family == "sma_crossover":
            fast = int(rng.integers(2, 40))
            yield family, {"fast": fast, "slow": fast + int(rng.integers(3, 60))}
        elif family == "rsi_mean_reversion":
            yield (
                family,
                {
                    "rsi_period": int(rng.integers(3, 30)),
                    "oversold": float(rng.integers(15, 45)),
                    "exit_level": float(rng.integers(50, 80)),
                    "trend": int(rng.integers(10, 200)),
                    "stop_loss": float(rng.uniform(0.01, 0.1)),
                    "take_profit": float(rng.uniform(0.01, 0.2)),
                },
            )
        else:
            yield (
                family,
                {
                    "entry": int(rng.integers(5, 60)),
                    "exit": int(rng.integers(3, 30)),
                    "atr_period": 14,
                    "atr_mult": float(rng.uniform(1, 4)),
                },
            )


@pytest.fixture(scope="module")
def sandbox() -> Iterator[JailSandbox]:
    with JailSandbox(wall_s=30.0) as sb:
        yield sb


def test_floor_passes_some_full_gate_passes_none(sandbox, rara_home, capsys):
    candles = generate(3000, "1h", seed=11).candles
    inst = Instrument(exchange="synthetic", symbol="NOISE/USDT", timeframe=Timeframe.parse("1h"))
    settings = Settings()
    trials = TrialStore(rara_home / "rara.db")
    gate = ResearchGate(trials, settings.gates.research, settings.backtest)
    sources = {p.parent.name: p.read_text() for p in EXAMPLES.glob("*/strategy.py")}
    floor_pass = full_pass = evaluated = 0
    failures: dict[str, int] = {}
    for family, params in random_candidates(np.random.default_rng(2024)):
        report = judge_candidate(
            sandbox,
            gate,
            name=family,
            source=sources[family],
            candles=candles,
            inst=inst,
            params=params,
        )
        assert report.checks[0].passed, report.checks[0].detail  # the sandbox ran it
        evaluated += 1
        by_name = {c.name: c for c in report.checks}
        floor_pass += by_name["floor.sharpe"].passed and by_name["floor.max_drawdown"].passed
        full_pass += report.passed
        for name in report.failed:
            failures[name] = failures.get(name, 0) + 1
    with capsys.disabled():
        print(
            f"\n{evaluated} random strategies on synthetic noise: seed floor passes "
            f"{floor_pass}, full gate passes {full_pass}; trials recorded "
            f"{trials.count(segment='validation')}; failures by check {failures}"
        )
    assert evaluated == N_STRATEGIES
    assert floor_pass > 0
    assert full_pass == 0
    # every candidate's train and validation backtests are trials, a candidate drawn twice is
    # the same trial, and no holdout was read: N is counted, not guessed
    distinct = {
        (family, json.dumps(params, sort_keys=True))
        for family, params in random_candidates(np.random.default_rng(2024))
    }
    assert len(distinct) < N_STRATEGIES  # the draw repeats some candidates: dedup is exercised
    assert trials.count(segment="train") == trials.count(segment="validation") == len(distinct)
    assert trials.count() == 2 * len(distinct)
