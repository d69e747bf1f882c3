"""Fixtures for the LLM tests: litellm pointed at the OpenAI-compatible emulator (``emu``, from
``tests/conftest.py``) with the kit's fake key, which must never show up in any output."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rara.llm.budget import Budget
from rara.llm.provider import LitellmProvider
from rara.research.models import ProposerContext
from tests.emulators.openai_emulator import OpenAIEmulator
from tests.kit.llm import API_KEY, MODEL


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
