"""The same behaviour through both OS boundaries: rara.runner.sandbox's ContainerSandbox (this
backend) and SubprocessSandbox (the jail) give the same answers and the same error codes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
PROMOTED = sorted((REPO / "strategies" / "promoted").glob("*/strategy.py"))

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
    from rara.runner.sandbox import ContainerSandbox, SubprocessSandbox

    container = ContainerSandbox(wall_s=5.0, memory_mb=512, image=sandbox_image)
    jail = SubprocessSandbox(wall_s=5.0, memory_mb=512)
    yield container, jail
    container.close()
    jail.close()


@pytest.mark.parametrize("path", PROMOTED, ids=[p.parent.name for p in PROMOTED])
def test_reference_strategies_agree(backends: tuple[Any, Any], path: Path) -> None:
    source, candles = path.read_text(), _candles()
    a, b = (sb.evaluate(source, candles, None, (300, 450)) for sb in backends)
    assert a.ok and b.ok, (a.error, b.error)
    assert a.meta == b.meta and [w.n for w in a.windows] == [w.n for w in b.windows]
    for x, y in zip(a.windows, b.windows, strict=True):
        np.testing.assert_array_equal(x.entries, y.entries)
        np.testing.assert_array_equal(x.exits, y.exits)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_failures_map_to_the_same_code(backends: tuple[Any, Any], name: str) -> None:
    body, code, text = HOSTILE[name]
    source = HEADER + f"\ndef on_candles(candles, params):\n    {body}\n"
    got = [sb.evaluate(source, _candles(100)) for sb in backends]
    assert [r.error.code if r.error else None for r in got] == [code, code], [r.error for r in got]
    assert all(text in r.error.message for r in got if r.error)
