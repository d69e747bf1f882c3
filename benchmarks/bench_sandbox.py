"""Strategy sandbox figures on one year of 1h candles (8,760 bars).

- in-process evaluate() of an example strategy (lint + restricted compile + meta + run + checks)
  vs the same signals computed with plain numpy;
- the look-ahead shape: four prefix windows plus the full history;
- wire protocol encode + decode of a request vs copying the arrays to bytes;
- one `python -m rara_sandbox` round trip vs bare interpreter start-up.

Min / median / max of 15 warm calls (5 with --quick; 5 and 3 for the fresh processes).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from benchmarks.report import Figure, print_figures, quick, spread_ms

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "sandbox"))

from rara_sandbox import ta  # noqa: E402
from rara_sandbox.evaluate import evaluate  # noqa: E402
from rara_sandbox.protocol import decode_request, decode_response, encode_request  # noqa: E402

BARS = 8_760
EXAMPLES = REPO / "strategies" / "examples"


def year_of_hours(seed: int = 7) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 40_000 * np.exp(np.cumsum(rng.normal(0, 0.006, BARS)))
    open_ = np.concatenate([[40_000.0], close[:-1]])
    wick = np.abs(rng.normal(0, 0.003, BARS))
    return {
        "timestamps": 1_672_531_200_000 + np.arange(BARS, dtype=np.int64) * 3_600_000,
        "open": open_,
        "high": np.maximum(open_, close) * (1 + wick),
        "low": np.minimum(open_, close) * (1 - wick),
        "close": close,
        "volume": rng.lognormal(1, 1, BARS),
    }


def run() -> list[Figure]:
    candles = year_of_hours()
    sma_src = (EXAMPLES / "sma_crossover" / "strategy.py").read_text()
    donchian_src = (EXAMPLES / "donchian_breakout" / "strategy.py").read_text()
    result = evaluate(sma_src, candles)
    assert result.ok, result.error

    def plain() -> None:
        fast, slow = ta.sma(candles["close"], 20), ta.sma(candles["close"], 50)
        ta.crossover(fast, slow)
        ta.crossunder(fast, slow)

    windows = [BARS // 5, 2 * BARS // 5, 3 * BARS // 5, 4 * BARS // 5]
    frame = encode_request(sma_src, candles, None, windows)
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO / "sandbox")}

    def child() -> None:
        p = subprocess.run(
            [sys.executable, "-m", "rara_sandbox"], input=frame, capture_output=True, env=env
        )
        assert decode_response(p.stdout).ok

    r = 5 if quick() else 15
    return [
        Figure(
            "evaluate sma_crossover, 1 window",
            spread_ms(lambda: evaluate(sma_src, candles), r),
            "ms",
            "same signals, plain numpy",
            spread_ms(plain, r),
            "sandbox overhead per call",
        ),
        Figure(
            "evaluate donchian_breakout, 5 windows",
            spread_ms(lambda: evaluate(donchian_src, candles, None, windows), r),
            "ms",
            "1 window",
            spread_ms(lambda: evaluate(donchian_src, candles), r),
            "look-ahead check input",
        ),
        Figure(
            "protocol encode+decode request",
            spread_ms(lambda: decode_request(encode_request(sma_src, candles, None, windows)), r),
            "ms",
            "arrays .tobytes()",
            spread_ms(lambda: [a.tobytes() for a in candles.values()], r),
            f"{len(frame):,} bytes",
        ),
        Figure(
            "python -m rara_sandbox round trip",
            spread_ms(child, repeat=3 if quick() else 5, warmup=1),
            "ms",
            "python -c pass",
            spread_ms(
                lambda: subprocess.run([sys.executable, "-c", "pass"]), repeat=3 if quick() else 5
            ),
            "fresh process per evaluation",
        ),
    ]


if __name__ == "__main__":
    print_figures(f"strategy sandbox ({BARS:,} 1h bars)", run())
