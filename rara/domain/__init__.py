"""Pure domain types: no I/O, nothing of rara imported.

The names below are imported from their modules on first use, so that importing one light module
of the package (`rara.domain.text`, for the CLI's output) does not import numpy with `market`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rara.domain.market import Candles, Instrument, Timeframe

__all__ = ["Candles", "Instrument", "Timeframe"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("rara.domain.market"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
