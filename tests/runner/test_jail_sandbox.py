"""The real sandbox runtime (RestrictedPython, ta, protocol) evaluates a shipped strategy inside
the jail: nothing it needs is blocked once the zygote has imported it."""

from __future__ import annotations

import io

import numpy as np
import pytest

from rara.runner.jail.runner import JailedRunner
from rara_sandbox import frame, protocol
from tests.kit.paths import EXAMPLES

pytestmark = pytest.mark.slow


def test_shipped_strategy_evaluates_in_the_jail(runner: JailedRunner) -> None:
    source = (EXAMPLES / "sma_crossover" / "strategy.py").read_text()
    n = 2000
    close = 100 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, n)))
    candles = {
        "timestamps": np.arange(n, dtype=np.int64) * 3_600_000,
        "open": close,
        "high": close * 1.01,
        "low": close * 0.99,
        "close": close,
        "volume": np.ones(n),
    }
    r = runner.run("jail_entries:sandbox_evaluate", protocol.encode_request(source, candles))
    assert r.ok, (r.error, r.message, r.stderr[-2000:])
    assert r.response is not None
    result = protocol.decode_response(frame.read_frame(io.BytesIO(r.response)))
    assert result.ok, result.error
    assert result.meta["name"] == "sma_crossover"
