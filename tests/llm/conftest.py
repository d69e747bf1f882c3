"""Fixtures for the LLM tests: an OpenAI-compatible emulator on 127.0.0.1 and litellm pointed at
it with a fake key that must never show up in any output."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rara.llm.budget import Budget
from rara.llm.provider import LitellmProvider
from rara.research.models import ProposerContext
from tests.emulators.openai_emulator import OpenAIEmulator

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
    return f"{prose}\n\n```python\n{source}```\n"


@pytest.fixture
def emu() -> Iterator[OpenAIEmulator]:
    emulator = OpenAIEmulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def cache_dir(rara_home: Path) -> Path:
    return rara_home / "cache" / "llm"


@pytest.fixture
def make_provider(emu: OpenAIEmulator, cache_dir: Path) -> Callable[..., LitellmProvider]:
    def make(model: str = MODEL, **kw: Any) -> LitellmProvider:
        args: dict[str, Any] = {
            "api_base": emu.url,
            "api_key": API_KEY,
            "timeout_s": 10.0,
            "seed": 7,
            "cache_dir": cache_dir,
            "budget": Budget(None),
            **kw,
        }
        return LitellmProvider(model, **args)

    return make


@pytest.fixture
def ctx() -> ProposerContext:
    return ProposerContext(
        run_id="run-test",
        iteration=3,
        seed=7,
        exchange="binance",
        symbol="BTC/USDT",
        timeframe="1h",
        regime="trend_up",
    )


def files_text(root: Path) -> bytes:
    """Every byte under root, to prove the key was never written."""
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())
