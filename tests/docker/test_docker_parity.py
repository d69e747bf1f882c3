"""The same behaviour through both OS boundaries: rara.runner.sandbox's ContainerSandbox (this
backend) and JailSandbox (the jail) give the same answers and the same error codes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.kit.candles import shipped_catalog
from tests.kit.paths import EXAMPLES as EXAMPLES_DIR
from tests.kit.patience import patience

pytestmark = pytest.mark.slow
EXAMPLES = sorted(EXAMPLES_DIR.glob("*/strategy.py"))
WALL_S = patience(0.5)  # the "loops" case costs it twice; the examples need far less

HEADER = """
def meta():
    return {"name": "probe", "version": "1.0.0", "api_version": 1, "timeframe": "1h",
            "lookback": 1, "description": "x", "params": {}}
"""
# name: (on_candles body, error code both backends give, text in both messages)
HOSTILE = {
    "raises": ("return 1 / 0", "runtime_error", "ZeroDivisionError"),
    "loops": ("while True:\n        pass", "timeout", ""),
    # 800 MB of pointers against a 512 MiB limit: RLIMIT_AS in both, so a MemoryError with its
    # line rather than a kill (the cgroup limit is the container's backstop, tested elsewhere)
    "allocates": ("x = [1.5] * 100_000_000\n    return x, x", "runtime_error", "MemoryError"),
}


def _candles(n: int = 600) -> Any:
    from rara.domain.market import Candles

    rng = np.random.default_rng(11)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    return Candles(
        1_704_067_200_000 + np.arange(n, dtype=np.int64) * 3_600_000,
        open_,
        np.maximum(open_, close) * 1.002,
        np.minimum(open_, close) * 0.998,
        close,
        rng.lognormal(1, 1, n),
    )


@pytest.fixture(scope="module")
def backends(docker_client: Any, sandbox_image: str) -> Iterator[tuple[Any, Any]]:
    from rara.runner.sandbox import ContainerSandbox, JailSandbox

    with (
        ContainerSandbox(wall_s=WALL_S, memory_mb=512, image=sandbox_image) as container,
        JailSandbox(wall_s=WALL_S, memory_mb=512) as jail,
    ):
        yield container, jail


def _same_levels(x: Any, y: Any) -> None:
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        np.testing.assert_array_equal(x, y)
    else:
        assert x == y


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_reference_strategies_agree(backends: tuple[Any, Any], path: Path) -> None:
    """In-process (trusted test mode), the jail and the container: identical signals and risk
    levels on the shipped real candles, for every window."""
    from rara.domain.market import Instrument, Timeframe
    from rara.runner.sandbox import EvaluationRequest, InProcessSandbox

    inst = Instrument(exchange="binance", symbol="BTC/USDT", timeframe=Timeframe.parse("1h"))
    source, candles = path.read_text(), shipped_catalog().load(inst)
    request = EvaluationRequest(source=source, candles=candles, windows=(300, 3000))
    results = [sb.evaluate(request) for sb in (*backends, InProcessSandbox())]
    assert all(r.ok for r in results), [r.error for r in results]
    ref = results[-1]
    for other in results[:-1]:
        assert other.meta == ref.meta and [w.n for w in other.windows] == [w.n for w in ref.windows]
        for x, y in zip(other.windows, ref.windows, strict=True):
            np.testing.assert_array_equal(x.entries, y.entries)
            np.testing.assert_array_equal(x.exits, y.exits)
            _same_levels(x.stop_loss, y.stop_loss)
            _same_levels(x.take_profit, y.take_profit)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_failures_map_to_the_same_code(backends: tuple[Any, Any], name: str) -> None:
    body, code, text = HOSTILE[name]
    source = HEADER + f"\ndef on_candles(candles, params):\n    {body}\n"
    from rara.runner.sandbox import EvaluationRequest

    request = EvaluationRequest(source=source, candles=_candles(100))
    got = [sb.evaluate(request) for sb in backends]
    assert [r.error.code if r.error else None for r in got] == [code, code], [r.error for r in got]
    assert all(text in r.error.message for r in got if r.error)
