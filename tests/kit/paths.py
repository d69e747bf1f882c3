"""Where things are in this checkout, spelled once."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RARA = REPO / "rara"
SANDBOX_SRC = REPO / "sandbox"
STRATEGIES = REPO / "strategies"
PROMOTED = STRATEGIES / "promoted"  # what passed the gate, each with its report
EXAMPLES = STRATEGIES / "examples"  # reference strategies, never promoted
TEMPLATE = STRATEGIES / "template" / "strategy.py"
SAMPLE_DATA = RARA / "data" / "sample"
SAMPLE_BTC_1H = SAMPLE_DATA / "binance" / "BTC-USDT" / "1h" / "2024.parquet"
