"""Paper against backtest over the same bars: the proof that paper trading a strategy gives the
trades the gate judged, and gate 2's tracking check.

`paper_trades` pairs a run's journaled fills into round trips (partial fills of one order are one
leg); `backtest_same_bars` backtests the bars the paper run replayed with signals from ONE
full-history evaluation (warm-up included, so both sides saw the same past); `compare` says,
trade by trade, where they differ: entry and exit bars and reasons exactly, prices, sizes and
fees and the equity curve within a relative tolerance (1e-9: float backtest vs decimal ledger).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TypeVar

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from rara.domain.events import EventPayload, TradingEquityMarked, TradingOrderFilled
from rara.events import Event, EventFilter, EventStore

REL_TOLERANCE = 1e-9
P = TypeVar("P", bound=EventPayload)


class RoundTrip(BaseModel):
    """One long trade: entry and exit legs, each possibly made of several fills."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entry_bar_ms: int
    exit_bar_ms: int
    entry_price: float  # average fill price of the leg (a float for comparison only)
    exit_price: float
    size: float
    entry_fee: float
    exit_fee: float
    pnl: float
    exit_reason: str


class ParityReport(BaseModel):
    """Where paper and backtest agree and where they do not."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ok: bool
    paper_trades: int
    backtest_trades: int
    mismatches: list[str]
    max_equity_rel_diff: float | None
    paper_final_equity: float | None
    backtest_final_equity: float | None


def run_events(store: EventStore, run_id: str, types: Sequence[type]) -> list[Event]:
    return list(store.iter_query(EventFilter(types=list(types), correlation_id=run_id)))


def paper_trades(fills: Iterable[TradingOrderFilled], interval_ms: int) -> list[RoundTrip]:
    """Round trips from fills in journal order; a fill's bar is the bar its time falls in."""
    trades: list[RoundTrip] = []
    entry: list[TradingOrderFilled] = []
    exit_: list[TradingOrderFilled] = []
    held = Decimal(0)
    for f in fills:
        if f.side == "buy":
            if exit_:
                raise ValueError("a buy while a sell leg is open: not a long-only round trip")
            entry.append(f)
            held += f.quantity
        else:
            exit_.append(f)
            held -= f.quantity
            if held == 0:
                trades.append(_round_trip(entry, exit_, interval_ms))
                entry, exit_ = [], []
    return trades


def _leg(fills: list[TradingOrderFilled]) -> tuple[float, float, float]:
    qty = sum((f.quantity for f in fills), Decimal(0))
    notional = sum((f.quantity * f.price for f in fills), Decimal(0))
    fee = sum((f.fee for f in fills), Decimal(0))
    return float(notional / qty), float(qty), float(fee)


def _bar_of(ms: int, interval_ms: int) -> int:
    return ms - ms % interval_ms


def _round_trip(
    entry: list[TradingOrderFilled], exit_: list[TradingOrderFilled], interval_ms: int
) -> RoundTrip:
    e_price, size, e_fee = _leg(entry)
    x_price, _, x_fee = _leg(exit_)
    reason = exit_[-1].reason or "signal"
    return RoundTrip(
        entry_bar_ms=_bar_of(entry[0].filled_ms, interval_ms),
        exit_bar_ms=_bar_of(exit_[-1].filled_ms, interval_ms),
        entry_price=e_price,
        exit_price=x_price,
        size=size,
        entry_fee=e_fee,
        exit_fee=x_fee,
        pnl=size * x_price - size * e_price - e_fee - x_fee,
        exit_reason="signal" if reason == "exit" else reason,
    )


def backtest_trades(trades: npt.NDArray[np.void], bar_ms: npt.NDArray[np.int64]) -> list[RoundTrip]:
    """The backtest's trades (`TRADE_DTYPE`) as round trips on bar times."""
    from rara.backtest.engine import EXIT_REASONS

    return [
        RoundTrip(
            entry_bar_ms=int(bar_ms[int(t["entry_idx"])]),
            exit_bar_ms=int(bar_ms[int(t["exit_idx"])]),
            entry_price=float(t["entry_price"]),
            exit_price=float(t["exit_price"]),
            size=float(t["size"]),
            entry_fee=float(t["entry_fee"]),
            exit_fee=float(t["exit_fee"]),
            pnl=float(t["pnl"]),
            exit_reason=EXIT_REASONS[int(t["exit_reason"])],
        )
        for t in trades
    ]


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL_TOLERANCE, abs_tol=1e-9)


def compare(
    paper: list[RoundTrip],
    backtest: list[RoundTrip],
    paper_equity: Sequence[tuple[int, Decimal]],
    backtest_equity: npt.NDArray[np.float64],
    bar_ms: npt.NDArray[np.int64],
) -> ParityReport:
    """Trade for trade, then the equity curve at every bar both have."""
    bad: list[str] = []
    if len(paper) != len(backtest):
        bad.append(f"{len(paper)} paper trades vs {len(backtest)} backtest trades")
    for i, (p, b) in enumerate(zip(paper, backtest, strict=False)):
        for name in ("entry_bar_ms", "exit_bar_ms", "exit_reason"):
            if getattr(p, name) != getattr(b, name):
                bad.append(f"trade {i}: {name} {getattr(p, name)} vs {getattr(b, name)}")
        for name in ("entry_price", "exit_price", "size", "entry_fee", "exit_fee", "pnl"):
            if not _close(getattr(p, name), getattr(b, name)):
                bad.append(f"trade {i}: {name} {getattr(p, name)!r} vs {getattr(b, name)!r}")
        if len(bad) > 20:
            break
    index = {int(ms): i for i, ms in enumerate(bar_ms)}
    worst: float | None = None
    last: dict[int, Decimal] = dict(paper_equity)  # a bar marked twice: the later mark
    for ms, eq in last.items():
        at = index.get(ms)
        if at is None:
            continue
        ref = float(backtest_equity[at])
        diff = abs(float(eq) - ref) / max(abs(ref), 1e-12)
        worst = diff if worst is None else max(worst, diff)
    if worst is not None and worst > REL_TOLERANCE:
        bad.append(f"equity differs by {worst:.3g} relative (tolerance {REL_TOLERANCE:g})")
    return ParityReport(
        ok=not bad,
        paper_trades=len(paper),
        backtest_trades=len(backtest),
        mismatches=bad[:20],
        max_equity_rel_diff=worst,
        paper_final_equity=float(paper_equity[-1][1]) if paper_equity else None,
        backtest_final_equity=float(backtest_equity[-1]) if len(backtest_equity) else None,
    )


def payloads_of(store: EventStore, run_id: str, model: type[P]) -> list[P]:
    """The run's events of one type, as their payload models, in journal order."""
    out: list[P] = []
    for ev in run_events(store, run_id, [model]):
        payload = ev.typed()
        assert isinstance(payload, model)
        out.append(payload)
    return out


def equity_marks(store: EventStore, run_id: str) -> list[tuple[int, Decimal]]:
    """The run's (bar open ms, equity) marks in journal order."""
    return [(m.bar_ms, m.equity) for m in payloads_of(store, run_id, TradingEquityMarked)]


def fills_of(store: EventStore, run_id: str) -> list[TradingOrderFilled]:
    return payloads_of(store, run_id, TradingOrderFilled)
