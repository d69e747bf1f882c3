"""The signal path: a deployed strategy's decision at the close of each bar, from the sandbox.

Paper and live trading hand a strategy only what it would have at the close of bar t: the
trailing window of its declared ``lookback`` plus ``[trading].lookback_margin`` bars ending at t.
The same strategy file runs in the same `rara_sandbox` runtime as the backtest; this module only
asks for the windows and reads the last bar of each. One sandbox evaluation computes every bar
of a batch (`ProofRequest` with trailing windows only): a jailed process costs ~15-30 ms, so a
replay passes many closed bars at once and a live feed one.

The backtest decides on the full history. Where a strategy's trailing-window signal differs
from that (an indicator with longer memory than the declared lookback, or look-ahead), paper
would not trade what the backtest traded; `SignalPath.check_divergence` compares the two over
the deployment's warm-up history, and every `evaluate` compares its bars with the full history
of the candles it was handed (the one full run the sandbox makes anyway). Signals compare
exactly; risk levels to the research gate's tolerance for trailing windows (`WARMUP_RTOL`:
recursive smoothers such as Wilder's ATR never forget their start exactly).

    path = SignalPath.open(sandbox, source, params, settings.trading.lookback_margin)
    report = path.check_divergence(warmup, bars=500)   # DivergenceReport | SignalFailure
    batch = path.evaluate(candles, decide_from=len(candles) - len(new_bars))
    if isinstance(batch, SignalFailure): ...  # never an exception for what a strategy does
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from rara.domain.events import TradingSignalDivergence
from rara.domain.market import Candles
from rara.domain.strategy import JsonScalar, StrategyMeta, StrategyRef
from rara.errors import BadInput
from rara.runner.sandbox import EvaluationRequest, ProofRequest, Sandbox
from rara.validation.lookahead import WARMUP_RTOL, risk_at_bars
from rara_sandbox.results import EvaluationResult, LastBars, SandboxError, WindowResult

__all__ = [
    "FIELDS",
    "BarSignal",
    "DivergenceReport",
    "SignalBatch",
    "SignalFailure",
    "SignalPath",
    "StrategyUnusable",
]

# A bar's decision, in the order the series come back from the sandbox (`LastBars.SERIES`).
FIELDS = ("entry", "exit", "stop_loss", "take_profit")
# Codes a one-bar meta read may end with while the strategy is still usable: it declared a valid
# meta and params, and only its signals failed on a single bar (real windows are longer).
_META_READ_TOLERATES = frozenset({"runtime_error", "bad_output", "forbidden", "timeout"})


class SignalFailure(BaseModel):
    """The sandbox gave no usable signals: the strategy raised (``runtime_error``, with its
    line), ran out of time (``timeout``), returned bad output, or the boundary itself failed
    (``memory``, ``crashed``, ``protocol_error``, ``sandbox_unavailable``...). The engine logs
    it and does not trade that bar; nothing is raised."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    message: str
    line: int | None = Field(None, description="1-based line in the strategy source, if known")
    window: int | None = Field(None, description="bars in the window being evaluated, if known")

    @classmethod
    def of(cls, result: EvaluationResult, fallback: str) -> SignalFailure:
        err = result.error
        if err is None:
            return cls(code="no_signals", message=fallback)
        return cls(code=err.code, message=err.message, line=err.line, window=err.window)


class StrategyUnusable(BadInput):
    """`SignalPath.open` could not read a valid meta and params from the strategy."""

    def __init__(self, failure: SignalFailure) -> None:
        super().__init__(
            f"strategy_{failure.code}",
            f"the strategy cannot be deployed: {failure.message}",
            "run `rara backtest` on it to see the error, fix the source and deploy again",
        )
        self.failure = failure


@dataclass(frozen=True, slots=True)
class BarSignal:
    """What the strategy said at the close of one bar (``open_ms`` is the bar's open time), on
    its trailing window: raw values, the engine applies the backtest's execution rules.
    Levels are fractions of the price; NaN: none."""

    open_ms: int
    entry: bool
    exit: bool
    stop_loss: float
    take_profit: float


class DivergenceReport(BaseModel):
    """Trailing-window signals against the full-history signals at the same bars: how many bars
    were compared, how many differ, the first differing bar (its open time and values) and which
    fields differ anywhere. ``max_level_rdiff``: the largest relative difference of a risk level
    that both computations gave (within the tolerance or not; 0 when none)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    trailing_window: int
    history: int = Field(description="bars of history the full-history side was computed on")
    bars_checked: int
    bars_differing: int
    first_bar_ms: int | None = None
    fields: tuple[str, ...] = ()
    first_full: tuple[bool, bool, float | None, float | None] | None = None
    first_trailing: tuple[bool, bool, float | None, float | None] | None = None
    max_level_rdiff: float = 0.0

    @property
    def diverges(self) -> bool:
        return self.bars_differing > 0

    def event(self, strategy_id: str, symbol: str, timeframe: str) -> TradingSignalDivergence:
        """The ``trading_signal_divergence`` event the engine logs for a diverging strategy."""
        return TradingSignalDivergence(
            strategy_id=strategy_id,
            symbol=symbol,
            timeframe=timeframe,
            trailing_window=self.trailing_window,
            bars_checked=self.bars_checked,
            bars_differing=self.bars_differing,
            first_bar_ms=self.first_bar_ms,
            detail=self.detail,
        )

    @property
    def detail(self) -> str:
        if not self.diverges:
            return (
                f"{self.trailing_window}-bar trailing windows agree with the {self.history}-bar "
                f"history on {self.bars_checked} bars"
            )
        return (
            f"{self.bars_differing} of {self.bars_checked} bars differ between the "
            f"{self.trailing_window}-bar trailing window and the {self.history}-bar history "
            f"({', '.join(self.fields)}); first at bar open {self.first_bar_ms}: full history "
            f"{self.first_full}, trailing window {self.first_trailing}"
        )


@dataclass(frozen=True, slots=True)
class SignalBatch:
    """One evaluation's decisions, one per bar from ``decide_from`` to the last bar handed, and
    the comparison of those bars with the full history of the candles handed."""

    bars: tuple[BarSignal, ...]
    divergence: DivergenceReport


def _level(v: float) -> float | None:
    return None if math.isnan(v) else v


def _values(
    entries: npt.NDArray[np.bool_], exits: npt.NDArray[np.bool_], stop: Any, take: Any, i: int
) -> tuple[bool, bool, float | None, float | None]:
    return bool(entries[i]), bool(exits[i]), _level(float(stop[i])), _level(float(take[i]))


def compare(
    full: WindowResult,
    trailing: LastBars,
    from_bar: int,
    trailing_window: int,
    open_ms: npt.NDArray[np.int64],
) -> DivergenceReport:
    """Bars from_bar..full.n-1 of the full history against one trailing window per bar."""
    n = full.n
    full_levels = (
        risk_at_bars(full.stop_loss, from_bar, n),
        risk_at_bars(full.take_profit, from_bar, n),
    )
    trail_levels = (trailing.stop_loss, trailing.take_profit)
    differs = [
        full.entries[from_bar:n] != trailing.entries,
        full.exits[from_bar:n] != trailing.exits,
    ]
    rdiff = 0.0
    for a, b in zip(full_levels, trail_levels, strict=True):
        both = ~np.isnan(a) & ~np.isnan(b)
        with np.errstate(all="ignore"):
            rel = np.abs(a - b) / np.maximum(np.abs(a), np.abs(b))
        rel = np.where(both & (a != b), rel, 0.0)
        rdiff = max(rdiff, float(rel.max(initial=0.0)))
        differs.append((np.isnan(a) != np.isnan(b)) | (rel > WARMUP_RTOL))
    any_bar = np.logical_or.reduce(differs)
    bad = np.flatnonzero(any_bar)
    w = trailing.entries.shape[0]
    first_ms = first_full = first_trailing = None
    if bad.size:
        i = int(bad[0])
        first_ms = int(open_ms[from_bar + i])
        first_full = _values(full.entries[from_bar:], full.exits[from_bar:], *full_levels, i=i)
        first_trailing = _values(trailing.entries, trailing.exits, *trail_levels, i=i)
    return DivergenceReport(
        trailing_window=trailing_window,
        history=n,
        bars_checked=w,
        bars_differing=int(bad.size),
        first_bar_ms=first_ms,
        fields=tuple(f for f, d in zip(FIELDS, differs, strict=True) if bool(d.any())),
        first_full=first_full,
        first_trailing=first_trailing,
        max_level_rdiff=rdiff,
    )


# The candles `open` hands the strategy to read its meta: one flat bar (meta() takes no candles;
# the sandbox runs on_candles once, whatever it does there is not what open() asks about).
def _one_bar() -> Candles:
    one = np.ones(1)
    return Candles(np.zeros(1, dtype=np.int64), one, one, one, one, np.zeros(1))


class SignalPath:
    """One deployed strategy (source and params) and its trailing window. Build with `open`."""

    def __init__(
        self,
        sandbox: Sandbox,
        source: str,
        params: dict[str, JsonScalar],
        meta: StrategyMeta,
        margin: int,
    ) -> None:
        self.sandbox, self.source, self.params, self.meta = sandbox, source, params, meta
        self.ref = StrategyRef.of(source, meta)
        # at least the bar itself: a zero lookback and margin still decide on one bar
        self.trailing_window = max(1, meta.lookback + margin)

    @classmethod
    def open(
        cls,
        sandbox: Sandbox,
        source: str,
        params: Mapping[str, Any] | None,
        margin: int,
    ) -> SignalPath:
        """Read the strategy's meta and effective params through `sandbox` (one evaluation);
        raises `StrategyUnusable` when it declares no valid meta or the params do not fit."""
        if margin < 0:
            raise ValueError("the lookback margin is a number of bars >= 0")
        request = EvaluationRequest(source=source, candles=_one_bar(), params=params)
        result = _run(sandbox, request)
        err = result.error
        if (
            result.meta is None
            or result.params is None
            or (err is not None and err.code not in _META_READ_TOLERATES)
        ):
            raise StrategyUnusable(SignalFailure.of(result, "the sandbox returned no meta"))
        meta = StrategyMeta.from_sandbox(result.meta)
        return cls(sandbox, source, dict(result.params), meta, margin)

    @property
    def strategy_id(self) -> str:
        return self.ref.strategy_id

    def first_needed(self, decide_from: int) -> int:
        """The first bar the trailing window of bar `decide_from` reaches: hand `evaluate` at
        least the candles from here on (more history: a longer full-history comparison)."""
        return max(0, decide_from - self.trailing_window + 1)

    def evaluate(self, candles: Candles, decide_from: int) -> SignalBatch | SignalFailure:
        """The strategy's last-bar entry, exit, stop_loss and take_profit for every bar t from
        `decide_from` to the last of `candles`, each computed on the trailing window ending at t
        (bars t-W+1..t; from bar 0 while fewer precede it), all in one sandbox evaluation, with
        those bars compared against the full history of `candles`."""
        n = len(candles)
        if not 0 <= decide_from < n:
            raise ValueError(f"decide_from {decide_from} is not a bar of {n} candles")
        w = self.trailing_window
        request = EvaluationRequest(
            source=self.source,
            candles=candles,
            params=self.params,
            proof=ProofRequest(from_bar=decide_from, trailing_window=w, prefixes=False),
        )
        result = _run(self.sandbox, request)
        proof = result.proof
        if result.failed or proof is None:
            return SignalFailure.of(result, "the sandbox returned no trailing windows")
        full = result.windows[-1]
        if (proof.from_bar, proof.bars, proof.trailing_window, full.n) != (
            decide_from,
            n - decide_from,
            w,
            n,
        ):
            return SignalFailure(
                code="protocol_error",
                message=f"the sandbox answered bars {proof.from_bar}..+{proof.bars} of {full.n} "
                f"(window {proof.trailing_window}), not {decide_from}..+{n - decide_from} of {n} "
                f"(window {w})",
            )
        assert result.meta is not None  # not failed
        if StrategyMeta.from_sandbox(result.meta) != self.meta:
            return SignalFailure(
                code="meta_changed", message="the strategy's meta() differs from when it was opened"
            )
        t = proof.trailing
        ts = candles.ts
        bars = tuple(
            BarSignal(int(ms), bool(e), bool(x), float(s), float(p))
            for ms, e, x, s, p in zip(
                ts[decide_from:].tolist(),
                t.entries.tolist(),
                t.exits.tolist(),
                t.stop_loss.tolist(),
                t.take_profit.tolist(),
                strict=True,
            )
        )
        return SignalBatch(bars, compare(full, t, decide_from, w, ts))

    def check_divergence(self, candles: Candles, bars: int) -> DivergenceReport | SignalFailure:
        """Over the last `bars` bars of `candles` (the deployment's warm-up history), each bar's
        trailing-window signal against the signal of the full history of `candles`."""
        if not 1 <= bars <= len(candles):
            raise ValueError(f"cannot check {bars} bars of {len(candles)} candles")
        batch = self.evaluate(candles, len(candles) - bars)
        return batch if isinstance(batch, SignalFailure) else batch.divergence


def _run(sandbox: Sandbox, request: EvaluationRequest) -> EvaluationResult:
    """`sandbox.evaluate`, with the runner's own failures (a zygote that will not start, a
    dead socket) as a coded result too: a daemon keeps running whatever happens in there."""
    try:
        return sandbox.evaluate(request)
    except (OSError, RuntimeError) as exc:
        return EvaluationResult(
            ok=False,
            error=SandboxError("sandbox_unavailable", f"{type(exc).__name__}: {exc}"),
        )
