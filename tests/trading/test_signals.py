"""The signal path in the real jailed sandbox: paper decides what the backtest decided.

For each shipped example, replaying bars the way the engine does (the trailing window ending at
each closed bar, batches of 64, 7 and 1) gives the full-history signals of one whole evaluation
at every bar; a strategy whose declared lookback is far too short for its EMA is reported by the
divergence check with its first differing bar (confirmed by evaluating that bar's window on its
own); a strategy that raises or spins comes back as a typed failure, not an exception.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from rara.domain.market import Candles
from rara.domain.strategy import strategy_id
from rara.runner.sandbox import EvaluationRequest, JailSandbox
from rara.trading.signals import (
    BarSignal,
    SignalBatch,
    SignalFailure,
    SignalPath,
    StrategyUnusable,
)
from rara.validation.lookahead import WARMUP_RTOL, risk_at_bars
from rara_sandbox.results import WindowResult
from tests.kit.candles import shipped_btc
from tests.kit.paths import EXAMPLES

SHIPPED = sorted(EXAMPLES.glob("*/strategy.py"))
MARGIN = 50
N_BARS = 560  # longer than every example's trailing window (donchian: 300 + 50)
DECIDE_FROM = 400  # the replay decides bars 400..559: every window is cut from a longer history

# Declares only its EMA(60)'s seed as lookback: on a short trailing window the EMA is still close
# to the SMA it starts from, far from its full-history value.
SHORT_LOOKBACK = """
def meta():
    return {"name": "short_memory", "version": "1.0.0", "api_version": 1, "timeframe": "1h",
            "lookback": 60, "description": "lookback far too short", "params": {}}


def on_candles(candles, params):
    fast = ta.ema(candles.close, 8)
    slow = ta.ema(candles.close, 60)
    return ta.crossover(fast, slow), ta.crossunder(fast, slow)
"""


def failing(body: str) -> str:
    """A valid strategy whose on_candles runs `body` (indented 8) once it has more than 3 bars,
    so its meta reads fine on one bar and any real window fails."""
    return f"""
def meta():
    return {{"name": "failing", "version": "1.0.0", "api_version": 1, "timeframe": "1h",
            "lookback": 5, "description": "fails", "params": {{"n": 1}}}}


def on_candles(candles, params):
    n = len(candles)
    if n > 3:
{body}
    up = candles.close > candles.open
    return up, ta.logical_not(up)
"""


@pytest.fixture(scope="module")
def jail() -> Iterator[JailSandbox]:
    with JailSandbox(wall_s=30.0) as sb:
        yield sb


@pytest.fixture(scope="module")
def candles() -> Candles:
    return shipped_btc("1h").slice(0, N_BARS)


def full_history(jail: JailSandbox, source: str, candles: Candles) -> WindowResult:
    """What the backtest decides on: one whole evaluation of the history."""
    result = jail.evaluate(EvaluationRequest(source=source, candles=candles))
    assert not result.failed, result.error
    return result.windows[-1]


def replay(path: SignalPath, candles: Candles, start: int, batch: int) -> list[BarSignal]:
    """The engine's loop: each batch of closed bars with the fewest candles its windows need."""
    out: list[BarSignal] = []
    for t0 in range(start, len(candles), batch):
        t1 = min(t0 + batch, len(candles))
        lo = path.first_needed(t0)
        got = path.evaluate(candles.slice(lo, t1), t0 - lo)
        assert isinstance(got, SignalBatch), got
        assert not got.divergence.diverges, got.divergence.detail
        assert got.divergence.bars_checked == t1 - t0
        out.extend(got.bars)
    return out


def assert_decides_as_backtest(
    bars: list[BarSignal], full: WindowResult, candles: Candles, start: int
) -> None:
    n = full.n
    assert [b.open_ms for b in bars] == candles.ts[start:n].tolist()
    np.testing.assert_array_equal([b.entry for b in bars], full.entries[start:n])
    np.testing.assert_array_equal([b.exit for b in bars], full.exits[start:n])
    for name in ("stop_loss", "take_profit"):
        # recursive smoothers (the donchian's ATR stop) agree to the gate's tolerance, the rest
        # exactly; NaN (no level) is NaN on both sides
        np.testing.assert_allclose(
            [getattr(b, name) for b in bars],
            risk_at_bars(getattr(full, name), start, n),
            rtol=WARMUP_RTOL,
            atol=0.0,
        )


@pytest.mark.slow
@pytest.mark.parametrize("strategy", SHIPPED, ids=lambda p: p.parent.name)
def test_shipped_strategies_decide_on_trailing_windows_what_the_backtest_decides(
    strategy: Path, jail: JailSandbox, candles: Candles
) -> None:
    source = strategy.read_text()
    path = SignalPath.open(jail, source, None, MARGIN)
    assert path.trailing_window == path.meta.lookback + MARGIN < DECIDE_FROM
    assert path.meta.name == strategy.parent.name
    assert path.strategy_id == strategy_id(source, path.meta.version)
    assert path.params == path.meta.params
    full = full_history(jail, source, candles)
    for batch, start in ((64, DECIDE_FROM), (7, DECIDE_FROM), (1, N_BARS - 10)):
        assert_decides_as_backtest(replay(path, candles, start, batch), full, candles, start)
    # the warm-up check the engine runs at start finds nothing either
    report = path.check_divergence(candles, N_BARS - DECIDE_FROM)
    assert not isinstance(report, SignalFailure), report
    assert (report.bars_checked, report.bars_differing, report.fields) == (160, 0, ())
    assert report.first_bar_ms is None and report.history == N_BARS


def test_params_override_the_defaults(jail: JailSandbox, candles: Candles) -> None:
    source = (EXAMPLES / "sma_crossover" / "strategy.py").read_text()
    path = SignalPath.open(jail, source, {"fast": 5}, 10)
    assert path.params == {"fast": 5, "slow": 50} and path.trailing_window == 60
    default = SignalPath.open(jail, source, None, 10)
    a = path.evaluate(candles, 100)
    b = default.evaluate(candles, 100)
    assert isinstance(a, SignalBatch) and isinstance(b, SignalBatch)
    assert [x.entry for x in a.bars] != [x.entry for x in b.bars]


@pytest.mark.slow
def test_a_too_short_lookback_is_reported_with_its_first_differing_bar(
    jail: JailSandbox, candles: Candles
) -> None:
    path = SignalPath.open(jail, SHORT_LOOKBACK, None, 5)
    w = path.trailing_window
    assert w == 65
    report = path.check_divergence(candles, 300)
    assert not isinstance(report, SignalFailure), report
    assert report.diverges and report.bars_checked == 300 and report.first_bar_ms is not None
    assert set(report.fields) <= {"entry", "exit"} and report.fields
    assert str(report.first_bar_ms) in report.detail
    first = int(np.flatnonzero(candles.ts == report.first_bar_ms)[0])
    assert first >= len(candles) - 300
    full = full_history(jail, SHORT_LOOKBACK, candles)

    def alone(t: int) -> tuple[bool, bool]:
        """Bar t's signal from its trailing window evaluated on its own."""
        own = full_history(jail, SHORT_LOOKBACK, candles.slice(t - w + 1, t + 1))
        return bool(own.entries[-1]), bool(own.exits[-1])

    assert alone(first) != (bool(full.entries[first]), bool(full.exits[first]))
    assert report.first_full is not None and report.first_trailing is not None
    assert report.first_trailing[:2] == alone(first)
    assert report.first_full[:2] == (bool(full.entries[first]), bool(full.exits[first]))
    if first > len(candles) - 300:
        assert alone(first - 1) == (bool(full.entries[first - 1]), bool(full.exits[first - 1]))
    event = report.event(path.strategy_id, "BTC/USDT", "1h")
    assert (event.first_bar_ms, event.bars_differing) == (
        report.first_bar_ms,
        report.bars_differing,
    )
    assert event.event_type == "trading_signal_divergence" and event.detail == report.detail
    # a batch handed a longer history than its windows reports the same divergence
    batch = path.evaluate(candles, len(candles) - 300)
    assert isinstance(batch, SignalBatch) and batch.divergence == report


def test_a_strategy_that_raises_is_a_typed_failure(jail: JailSandbox, candles: Candles) -> None:
    source = failing('        assert n < 4, "boom"')
    path = SignalPath.open(jail, source, None, 0)
    got = path.evaluate(candles.slice(0, 50), 40)
    assert isinstance(got, SignalFailure)
    assert got.code == "runtime_error" and "boom" in got.message
    assert got.line == source.splitlines().index('        assert n < 4, "boom"') + 1
    assert isinstance(path.check_divergence(candles.slice(0, 50), 5), SignalFailure)


def test_a_strategy_that_spins_is_a_typed_failure(candles: Candles) -> None:
    with JailSandbox(wall_s=1.0) as short:
        path = SignalPath.open(short, failing("        while True:\n            pass"), None, 0)
        got = path.evaluate(candles.slice(0, 50), 40)
    assert isinstance(got, SignalFailure) and got.code == "timeout", got


@pytest.mark.parametrize(
    "source, params, code",
    [
        ("import os\n" + SHORT_LOOKBACK, None, "strategy_lint_failed"),
        (SHORT_LOOKBACK.replace('"lookback": 60', '"lookback": -1'), None, "strategy_bad_meta"),
        (failing("        pass"), {"nope": 2}, "strategy_bad_params"),
    ],
    ids=["lint", "meta", "params"],
)
def test_a_strategy_without_valid_meta_or_params_cannot_be_opened(
    jail: JailSandbox, source: str, params: dict[str, int] | None, code: str
) -> None:
    with pytest.raises(StrategyUnusable) as caught:
        SignalPath.open(jail, source, params, 10)
    assert caught.value.code == code and caught.value.failure.message
