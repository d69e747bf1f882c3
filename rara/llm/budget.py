"""The LLM cost limit shared by every provider of a run.

Charged after each call, because the price of a call is only known once it has been made: the
call that crosses the limit is recorded and paid for, then `LlmBudgetExhausted` stops the run.
The exception carries that call, so the loop can account for it and say "stopped: budget".
"""

from __future__ import annotations

import threading

from rara.llm.ports import BudgetExhausted, LlmCall


class LlmBudgetExhausted(BudgetExhausted):
    """`BudgetExhausted` with the numbers: ``call`` is the call that crossed the limit (None when
    the limit was already reached before asking), ``spent`` and ``limit`` are in USD."""

    def __init__(self, spent: float, limit: float, call: LlmCall | None) -> None:
        after = f" after a {call.purpose} call to {call.model}" if call is not None else ""
        super().__init__(
            "budget_exhausted",
            f"LLM cost limit reached{after}: spent ${spent:.6f} of max ${limit:.6f}",
            "raise the run's LLM cost limit (max_cost_usd) to go on; every call so far is recorded",
        )
        self.spent = spent
        self.limit = limit
        self.call = call
        self.calls = [call] if call is not None else []


class Budget:
    """``max_cost_usd=None`` means no limit (spending is still counted)."""

    def __init__(self, max_cost_usd: float | None = None) -> None:
        if max_cost_usd is not None and max_cost_usd < 0:
            raise ValueError("max_cost_usd must be >= 0")
        self.max_cost_usd = max_cost_usd
        self.spent = 0.0
        self.calls = 0
        self._lock = threading.Lock()

    @property
    def exhausted(self) -> bool:
        return self.max_cost_usd is not None and self.spent >= self.max_cost_usd

    @property
    def remaining(self) -> float | None:
        return None if self.max_cost_usd is None else max(0.0, self.max_cost_usd - self.spent)

    def check(self) -> None:
        """Before a call: refuse to start one once the limit is reached."""
        if self.exhausted:
            assert self.max_cost_usd is not None
            raise LlmBudgetExhausted(self.spent, self.max_cost_usd, None)

    def charge(self, call: LlmCall) -> None:
        """After a call: count it, then raise if the limit is now reached."""
        with self._lock:
            self.spent += call.cost_usd
            self.calls += 1
            spent = self.spent
        if self.max_cost_usd is not None and spent >= self.max_cost_usd:
            raise LlmBudgetExhausted(spent, self.max_cost_usd, call)
