"""The exhaustive causality proof, computed in the sandbox process: the strategy on every prefix.

For every bar t from ``from_bar`` to the end, the strategy runs on the prefix 0..t (what it would
have seen at the close of t) and on the trailing window of ``trailing_window`` bars ending at t
(what paper and live trading hand it), each through the caller's `LastBar` (a fresh module
namespace and a fresh params copy per call). Only the last bar of each is kept: the host compares
them with the full-history values at t. The deadline is checked between bars, so the answer is a
coded timeout rather than a kill whenever a single bar fits in it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import numpy as np

from rara_sandbox.candles import Candles
from rara_sandbox.results import LastBars, ProofResult, ProofSpec

# One bar's (entry, exit, stop_loss, take_profit) from one computation.
LastBar = Callable[[Candles], tuple[bool, bool, float, float]]


class ProofTimeout(Exception):
    def __init__(self, bar: int, done: int, total: int, deadline_s: float) -> None:
        super().__init__(
            f"causality proof past its deadline of {deadline_s:g} s at bar {bar} "
            f"({done} of {total} bars proven)"
        )


class _Series:
    """Preallocated columns for the kept last bars (no per-bar allocation but the strategy's)."""

    def __init__(self, m: int) -> None:
        self.entries = np.zeros(m, dtype=np.bool_)
        self.exits = np.zeros(m, dtype=np.bool_)
        self.stop_loss = np.full(m, np.nan)
        self.take_profit = np.full(m, np.nan)

    def put(self, i: int, bar: tuple[bool, bool, float, float]) -> None:
        self.entries[i], self.exits[i], self.stop_loss[i], self.take_profit[i] = bar

    def done(self) -> LastBars:
        return LastBars(self.entries, self.exits, self.stop_loss, self.take_profit)


def check_spec(spec: ProofSpec, total: int) -> str | None:
    """Why `spec` cannot be proven on `total` bars (None: it can)."""
    if type(spec.from_bar) is not int or not 0 <= spec.from_bar < total:
        return f"proof from_bar must be in 0..{total - 1}"
    if type(spec.trailing_window) is not int or spec.trailing_window < 1:
        return "proof trailing_window must be an int >= 1"
    if type(spec.prefixes) is not bool:
        return "proof prefixes must be a bool"
    if not spec.deadline_s > 0:
        return "proof deadline_s must be positive"
    if spec.to_bar is not None and not spec.from_bar < spec.to_bar <= total:
        return f"proof to_bar must be in {spec.from_bar + 1}..{total}"
    return None


def prove(
    last_bar: LastBar,
    bars: Candles,
    spec: ProofSpec,
    started: float,
    known: Mapping[int, tuple[bool, bool, float, float]] | None = None,
) -> ProofResult:
    """Run `last_bar` on every prefix and trailing window ending at from_bar..to_bar-1 (only the
    trailing windows when the spec asks for no prefixes). `known`: last bars of prefixes the
    caller already computed, by prefix length (its windows), taken instead of computing those
    prefixes a second time."""
    done = known or {}
    n, w = len(bars), spec.trailing_window
    end = n if spec.to_bar is None else spec.to_bar
    m = end - spec.from_bar
    prefix, trailing = _Series(m), _Series(m)
    for i, t in enumerate(range(spec.from_bar, end)):
        if time.perf_counter() - started > spec.deadline_s:
            raise ProofTimeout(t, i, m, spec.deadline_s)
        lo = t + 1 - w
        if lo > 0 and not spec.prefixes:
            trailing.put(i, last_bar(bars.span(lo, t + 1)))
            continue
        bar = done.get(t + 1) or last_bar(bars.window(t + 1))
        prefix.put(i, bar)
        # a trailing window that reaches bar 0 is the prefix itself: computed once
        trailing.put(i, bar if lo <= 0 else last_bar(bars.span(lo, t + 1)))
    return ProofResult(spec.from_bar, w, prefix.done() if spec.prefixes else None, trailing.done())
