"""Look-ahead, perturbation and warm-up checks, run the way the gate runs them: every variant in
the candidate's one jailed sandbox process, on the shipped real candles."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rara.domain.market import Candles
from rara.runner.sandbox import EvaluationRequest, JailSandbox
from rara.validation.lookahead import CheckOutcome, check, plan
from tests.kit.candles import shipped_btc
from tests.kit.paths import EXAMPLES

HEAD = """
def meta():
    return {{"name": "probe", "version": "1.0.0", "api_version": 1, "timeframe": "1h",
             "lookback": {lookback}, "description": "test", "params": {{}}}}


def on_candles(candles, params):
    close = candles.close
{body}
"""

# Each cheats through a route the Strategy API allows; each must be caught by name.
CHEATS = {
    # next bar's close copied back one bar: shift(-1) by hand
    "future_by_slicing": (
        "truncation",
        """
    nxt = close.copy()
    nxt[:-1] = close[1:]
    up = nxt > close
    return up, ta.logical_not(up)""",
    ),
    # reversed cumulative sum: the sum of all future closes
    "future_by_reversal": (
        "truncation",
        """
    ahead = close[::-1].cumsum()[::-1]
    rich = ahead > ahead.mean()
    return rich, ta.logical_not(rich)""",
    ),
    # z-score against the whole sample's mean and deviation
    "full_sample_normalisation": (
        "truncation",
        """
    z = (close - close.mean()) / close.std()
    return z > 0.5, z < -0.5""",
    ),
    # the sample's maximum: known only at the end
    "full_sample_max": (
        "truncation",
        """
    near = close > 0.9 * close.max()
    return near, ta.logical_not(near)""",
    ),
    # a centred 21-bar mean: each bar sees ten bars ahead
    "centred_window": (
        "truncation",
        """
    m = ta.sma(close, 21)
    centred = close.copy()
    centred[:-10] = m[10:]
    return close > centred, close < centred""",
    ),
    # warm-up NaNs back-filled with a later value
    "backfill": (
        "truncation",
        """
    s = ta.sma(close, 50)
    b = ta.ffill(s[::-1])[::-1]
    return close > b, close < b""",
    ),
    # only the last bar's value, applied to every bar
    "last_bar_broadcast": (
        "truncation",
        """
    up = close < close[-1]
    return up, ta.logical_not(up)""",
    ),
}


@pytest.fixture(scope="module")
def candles() -> Candles:
    return shipped_btc("1h")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[JailSandbox]:
    with JailSandbox(wall_s=30.0) as sb:
        yield sb


def run_checks(
    sandbox: JailSandbox, source: str, candles: Candles, lookback: int
) -> dict[str, CheckOutcome]:
    p = plan(len(candles), seed=7)
    request = EvaluationRequest(source=source, candles=candles, windows=p.windows, probes=p.probes)
    result = sandbox.evaluate(request)
    assert result.ok, result.error
    assert len(result.probes) == len(p.probes)
    return {o.name: o for o in check(result, lookback).learnable}


@pytest.mark.parametrize("name", sorted(p.parent.name for p in EXAMPLES.glob("*/strategy.py")))
def test_reference_strategies_pass(name, sandbox, candles):
    source = (EXAMPLES / name / "strategy.py").read_text()
    import re

    lookback = int(re.search(r'"lookback":\s*(\d+)', source).group(1))
    outcomes = run_checks(sandbox, source, candles, lookback)
    assert all(o.passed for o in outcomes.values()), [o.detail for o in outcomes.values()]


@pytest.mark.parametrize("cheat", sorted(CHEATS))
def test_lookahead_is_rejected(cheat, sandbox, candles):
    expected, body = CHEATS[cheat]
    outcomes = run_checks(sandbox, HEAD.format(lookback=50, body=body), candles, 50)
    failed = outcomes[expected]
    assert not failed.passed, failed.detail
    assert failed.first_bar is not None and failed.signal in ("entries", "exits")
    assert failed.full_value != failed.variant_value
    assert f"bar {failed.first_bar}" in failed.detail


def test_perturbation_catches_reads_far_ahead(sandbox, candles):
    """Reads the close 200 bars ahead: shuffling the bars after t changes signals before t."""
    body = """
    ahead = close.copy()
    ahead[:-200] = close[200:]
    up = ahead > close
    return up, ta.logical_not(up)"""
    outcomes = run_checks(sandbox, HEAD.format(lookback=0, body=body), candles, 0)
    assert not outcomes["perturbation"].passed


def test_shift_by_negative_n_is_refused(sandbox, candles):
    body = """
    nxt = ta.shift(close, -1)
    return nxt > close, nxt < close"""
    request = EvaluationRequest(source=HEAD.format(lookback=1, body=body), candles=candles)
    result = sandbox.evaluate(request)
    assert not result.ok and result.error.code == "runtime_error"
    assert "shift" in result.error.message


EMA_BODY = """
    fast = ta.ema(close, 50)
    slow = ta.ema(close, 200)
    return ta.crossover(fast, slow), ta.crossunder(fast, slow)"""


def test_short_declared_lookback_is_flagged_by_warmup(sandbox, candles):
    outcomes = run_checks(sandbox, HEAD.format(lookback=10, body=EMA_BODY), candles, 10)
    assert outcomes["truncation"].passed and outcomes["perturbation"].passed
    warm = outcomes["warmup"]
    assert not warm.passed and warm.signal in ("entries", "exits")
    assert "lookback 10" in warm.detail


def test_honest_lookback_passes_warmup(sandbox, candles):
    outcomes = run_checks(sandbox, HEAD.format(lookback=2000, body=EMA_BODY), candles, 2000)
    assert all(o.passed for o in outcomes.values()), [o.detail for o in outcomes.values()]


def test_probe_positions_come_from_the_run_seed_and_the_source() -> None:
    from rara.domain.strategy import source_sha256
    from rara.validation.lookahead import EARLY_PREFIXES, probe_seed

    n = 6000
    a, b = source_sha256("strategy a"), source_sha256("strategy b")
    same = plan(n, probe_seed(1, a))
    assert plan(n, probe_seed(1, a)) == same  # a run is reproducible
    assert plan(n, probe_seed(2, a)) != same and plan(n, probe_seed(1, b)) != same
    cuts = same.windows
    assert any(c <= 51 for c in cuts) and any(c >= n - 50 for c in cuts)  # first and last bars
    assert any(51 < c < n - 50 for c in cuts) and len(cuts) >= 10
    points = [p.at for p in same.probes if p.kind == "perturb"]
    assert any(t <= 51 for t in points) and any(t >= n - 52 for t in points)
    assert same.early_prefixes == EARLY_PREFIXES
    # over many seeds the cuts fall everywhere: no bar is safe from a probe
    covered = {c // 600 for s in range(40) for c in plan(n, s).windows}
    assert covered == set(range(10))


def test_early_prefixes_catch_a_leak_in_the_first_bars(sandbox, candles):
    body = """
    nxt = close.copy()
    nxt[:-1] = close[1:]
    first = ta.full(len(candles), 1.0).cumsum() <= 40.0
    up = ta.where(first, nxt > close, close > ta.sma(close, 5))
    return up, ta.logical_not(up)"""
    p = plan(len(candles), seed=7)
    request = EvaluationRequest(
        source=HEAD.format(lookback=0, body=body),
        candles=candles,
        windows=p.windows,
        probes=p.probes,
        early_prefixes=p.early_prefixes,
    )
    result = sandbox.evaluate(request)
    assert result.ok and result.proof is not None and result.proof.bars == p.early_prefixes
    truncation = {o.name: o for o in check(result, 0).learnable}["truncation"]
    assert not truncation.passed and truncation.first_bar is not None
    assert truncation.first_bar < 40
