"""What a closed bar's signal asks for, under the backtest's execution rules (`rara.backtest.engine`
docstring, rules 1-4), as a pure function: the engine turns the answer into order intents.

The rules say *when* an order acts (at the next bar's open, which the venue does) and *whether*
a signal acts at all: both signals on one bar cancel (rule 2); an entry acts only when flat, an
exit only when long (rule 3); stop-loss and take-profit are fractions of the entry fill, placed
once the entry bar has closed (rule 4). Signals on the last bar are dropped (rule 1): the engine
cancels what is still pending when the feed ends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from rara.domain.money import from_float

if TYPE_CHECKING:
    from rara.trading.signals import BarSignal

Action = Literal["enter", "exit", "none"]


def action(signal: BarSignal, *, long: bool, entry_pending: bool) -> Action:
    """Rules 2 and 3: what `signal` asks of an account that is `long` (holds the base) or has an
    entry order still pending (which counts as long: one position at a time)."""
    if signal.entry == signal.exit:  # neither, or both (rule 2)
        return "none"
    if signal.entry:
        return "none" if long or entry_pending else "enter"
    return "exit" if long else "none"


@dataclass(frozen=True, slots=True)
class ProtectiveLevels:
    """Stop-loss and take-profit trigger prices for a position (None: no such order)."""

    stop_loss: Decimal | None
    take_profit: Decimal | None


def protective_levels(fill_price: float, stop_loss: float, take_profit: float) -> ProtectiveLevels:
    """Rule 4: levels ``fill * (1 - sl)`` and ``fill * (1 + tp)`` from the fractions read on the
    entry signal bar, computed in float as the backtest does, then held exactly."""

    def level(frac: float, sign: float) -> Decimal | None:
        if math.isnan(frac):
            return None
        return from_float(fill_price * (1.0 + sign * frac))

    return ProtectiveLevels(level(stop_loss, -1.0), level(take_profit, 1.0))
