"""The LLM tests' script: the model litellm prices, a fake key that must never show up in any
output, a good hypothesis and a good strategy module, and how a model wraps code in prose."""

from __future__ import annotations

from pathlib import Path

MODEL = "openai/gpt-4o-mini"  # in litellm's bundled price map, so cost > 0
API_KEY = "sk-test-3f9a1c0d5e7b42a8b6c4d2e0f1a3b5c7"

GOOD_HYPOTHESIS = (
    '{"hypothesis": "Buy when SMA(20) crosses above SMA(50); sell on the cross back.", '
    '"rationale": "Trends persist on hourly bars; a flat market would refute it.", '
    '"family": "trend_following", '
    '"forecast": {"validation_sharpe": 0.8, "pass_probability": 0.2}}'
)
GOOD_SOURCE = '''"""SMA crossover."""


def meta():
    return {
        "name": "sma_cross_llm",
        "version": "1.0.0",
        "api_version": 1,
        "timeframe": "1h",
        "lookback": 50,
        "description": "SMA(fast) crosses SMA(slow).",
        "params": {"fast": 20, "slow": 50},
    }


def on_candles(candles, params):
    close = candles.close
    fast = ta.sma(close, params["fast"])
    slow = ta.sma(close, params["slow"])
    return ta.crossover(fast, slow), ta.crossunder(fast, slow)
'''


def fenced(source: str = GOOD_SOURCE, prose: str = "Here is the module.") -> str:
    """A reply the way models write code: prose, then a fenced python block."""
    return f"{prose}\n\n```python\n{source}```\n"


def files_text(root: Path) -> bytes:
    """Every byte under root, to prove the key was never written."""
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())
