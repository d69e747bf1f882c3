"""The port through which the server's control calls reach the daemon.

The server knows nothing of how research pauses or trading halts; it hands each control call to
a `Control` the daemon provides, and records nothing itself. ``rara serve`` (a state DB without
a daemon) passes ``None``: every control call then answers FAILED_PRECONDITION.

Each method records the request as one event in the log, naming the caller's token (`by`, the
token's name, never its value), and returns that event's seq. The daemon owns the event store,
so the methods are coroutines: an implementation that writes SQLite runs the write off the
event loop (``asyncio.to_thread``). To refuse, raise `rara.errors.Refused` (the server answers
FAILED_PRECONDITION) or `rara.errors.BadInput` (INVALID_ARGUMENT) with a message for people.

After a call returns, the server reads the state it reports back (the trading state, the
strategy's stage) from the log's projections, which include the returned seq.
"""

from __future__ import annotations

from typing import Protocol


class Control(Protocol):
    """The daemon's control calls, one per control RPC."""

    async def pause_research(self, *, reason: str, by: str) -> int:
        """Stop starting research iterations until resumed; the event's seq."""
        ...

    async def resume_research(self, *, by: str) -> int:
        """Let research go on after `pause_research`; the event's seq."""
        ...

    async def kill(self, *, flatten: bool, reason: str, by: str) -> int:
        """HALT trading (`rara.trading.control.kill`); the trading_state_changed event's seq."""
        ...

    async def resume(self, *, reason: str, by: str) -> int:
        """Trading back to ACTIVE (`rara.trading.control.resume`); the event's seq."""
        ...

    async def approve_strategy(self, *, strategy_id: str, account: str, by: str) -> int:
        """A person's approval of a live candidate for `account` (empty: the default); the
        feedback_strategy_confirmed event's seq."""
        ...

    async def demote_strategy(self, *, strategy_id: str, reason: str, by: str) -> int:
        """Demote a strategy one stage (a person's decision); the feedback_strategy_demote
        event's seq."""
        ...
