"""The exhaustive causality proof a candidate must pass before it is promoted, and its checks.

The cheap look-ahead probes (`rara.validation.lookahead`) run on every candidate; they sample.
Before anything is promoted the gate asks for a proof instead (`CausalityProver`, run by the caller
in one sandbox process, since the gate never runs code): for every bar t from the validation start
to the end, the signals and risk levels computed on the prefix 0..t must equal the full-history
values at t. That is exactly what paper and live trading compute at the close of t, so the same
run also evaluates the trailing window of the declared lookback ending at t (the parity of the
live path) and evaluates the full history again in a fresh process (determinism).
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from rara.domain.gate import GateCheck
from rara.validation.lookahead import WARMUP_RTOL, first_difference, risk_at_bars
from rara_sandbox.results import EvaluationResult, LastBars, WindowResult

__all__ = [
    "CausalityProof",
    "CausalityProver",
    "Mismatch",
    "causality_checks",
    "holdout_mismatches",
    "read_proof",
]


class Mismatch(BaseModel):
    """The first bar where two computations of one series disagree."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bar: int
    series: str  # entries | exits | stop_loss | take_profit
    full_value: float | bool | None
    other_value: float | bool | None


class CausalityProof(BaseModel):
    """What the prover measured: the bars covered, the first prefix, trailing-window and
    determinism mismatches (None: none), a sandbox error that stopped it, and its cost."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    from_bar: int
    bars: int
    trailing_window: int
    prefix: Mismatch | None = None
    trailing: Mismatch | None = None
    determinism: Mismatch | None = None
    error: str | None = None
    elapsed_ms: float = 0.0

    @property
    def complete(self) -> bool:
        return self.error is None


class CausalityProver(Protocol):
    """Runs the proof for the candidate being judged: prefixes ending at every bar from
    `from_bar`, trailing windows of `trailing_window` bars, and the full history again."""

    def __call__(self, from_bar: int, trailing_window: int) -> CausalityProof: ...


def _value(a: npt.NDArray[Any], i: int) -> float | bool | None:
    v = a[i].item()
    return None if isinstance(v, float) and math.isnan(v) else v


def _first_mismatch(
    full: WindowResult, last: LastBars, from_bar: int, rtol: float
) -> Mismatch | None:
    """The earliest bar where `last` (one computation per bar) differs from the full history."""
    hi = full.n
    pairs = {
        "entries": (full.entries[from_bar:hi], last.entries),
        "exits": (full.exits[from_bar:hi], last.exits),
        "stop_loss": (risk_at_bars(full.stop_loss, from_bar, hi), last.stop_loss),
        "take_profit": (risk_at_bars(full.take_profit, from_bar, hi), last.take_profit),
    }
    found: Mismatch | None = None
    for series, (a, b) in pairs.items():
        i = first_difference(a, b, rtol if series not in ("entries", "exits") else 0.0)
        if i is not None and (found is None or from_bar + i < found.bar):
            found = Mismatch(
                bar=from_bar + i, series=series, full_value=_value(a, i), other_value=_value(b, i)
            )
    return found


def _determinism(first: WindowResult, again: WindowResult) -> Mismatch | None:
    """Where a second process's full-history outputs differ from the first's (exactly; a risk
    level compares bar by bar, so None and an all-NaN array mean the same)."""
    n = first.n
    if again.n != n:
        return Mismatch(bar=min(n, again.n), series="entries", full_value=None, other_value=None)
    pairs = {
        "entries": (first.entries, again.entries),
        "exits": (first.exits, again.exits),
        "stop_loss": (risk_at_bars(first.stop_loss, 0, n), risk_at_bars(again.stop_loss, 0, n)),
        "take_profit": (
            risk_at_bars(first.take_profit, 0, n),
            risk_at_bars(again.take_profit, 0, n),
        ),
    }
    found: Mismatch | None = None
    for series, (a, b) in pairs.items():
        i = first_difference(a, b)
        if i is not None and (found is None or i < found.bar):
            found = Mismatch(
                bar=i, series=series, full_value=_value(a, i), other_value=_value(b, i)
            )
    return found


def read_proof(
    result: EvaluationResult,
    first: WindowResult,
    from_bar: int,
    trailing_window: int,
    elapsed_ms: float = 0.0,
) -> CausalityProof:
    """Compare what the proof's process computed with the full history: every prefix's last bar
    exactly, every trailing window's last bar (signals exactly, risk levels to `WARMUP_RTOL`),
    and its own full history with `first` (the candidate's first evaluation) exactly."""
    bars = max(first.n - from_bar, 0)

    def failed(why: str) -> CausalityProof:
        return CausalityProof(
            from_bar=from_bar,
            bars=bars,
            trailing_window=trailing_window,
            error=why,
            elapsed_ms=elapsed_ms,
        )

    if result.failed or result.proof is None:
        err = result.error
        return failed(f"{err.code}: {err.message}" if err else "the sandbox returned no proof")
    proof, full = result.proof, result.windows[-1]
    if proof.prefix is None:
        return failed("the sandbox computed no prefixes")
    if (proof.from_bar, proof.bars, full.n) != (from_bar, bars, first.n):
        return failed(
            f"the proof covers bars {proof.from_bar}..+{proof.bars} of {full.n}, "
            f"not {from_bar}..+{bars} of {first.n}"
        )
    return CausalityProof(
        from_bar=from_bar,
        bars=bars,
        trailing_window=trailing_window,
        prefix=_first_mismatch(full, proof.prefix, from_bar, 0.0),
        trailing=_first_mismatch(full, proof.trailing, from_bar, WARMUP_RTOL),
        determinism=_determinism(first, full),
        elapsed_ms=elapsed_ms,
    )


def _describe(m: Mismatch, what: str) -> str:
    return (
        f"{m.series} at bar {m.bar} is {m.full_value} with full history but {m.other_value} "
        f"with {what}"
    )


def _learnable(m: Mismatch | None, holdout_start: int | None) -> Mismatch | None:
    """A mismatch the learnable report may show: one before the holdout (a causal strategy's
    values there do not depend on the holdout's bars; later ones might)."""
    return m if m is None or holdout_start is None or m.bar < holdout_start else None


def causality_checks(
    proof: CausalityProof | None, holdout_start: int | None = None
) -> list[GateCheck]:
    """The proof's three report lines, on the bars before ``holdout_start`` (mismatches first
    seen at a holdout bar are `holdout_mismatches`', read only at the hidden decision). No proof
    (no prover given, or it failed) fails all three: nothing is promoted on an unproven claim."""
    if proof is None or not proof.complete:
        why = "not proven: no prover" if proof is None else f"not proven: {proof.error}"
        return [
            GateCheck(name=name, passed=False, detail=why)
            for name in ("lookahead.exhaustive", "lookahead.trailing_window", "determinism")
        ]
    end = proof.from_bar + proof.bars
    if holdout_start is not None:
        end = min(end, holdout_start)
    span = f"bars {proof.from_bar}..{end - 1}"
    prefix = _learnable(proof.prefix, holdout_start)
    trailing = _learnable(proof.trailing, holdout_start)
    determinism = _learnable(proof.determinism, holdout_start)
    return [
        GateCheck(
            name="lookahead.exhaustive",
            passed=prefix is None,
            value=None if prefix is None else prefix.bar,
            detail=f"prefix signals equal full-history signals on {span}"
            if prefix is None
            else _describe(prefix, f"history ending at bar {prefix.bar}"),
        ),
        GateCheck(
            name="lookahead.trailing_window",
            passed=trailing is None,
            value=None if trailing is None else trailing.bar,
            threshold=proof.trailing_window,
            detail=f"{proof.trailing_window}-bar trailing windows agree on {span}"
            if trailing is None
            else _describe(trailing, f"the {proof.trailing_window}-bar trailing window"),
        ),
        GateCheck(
            name="determinism",
            passed=determinism is None,
            value=None if determinism is None else determinism.bar,
            detail="the same signals in a second, separate process"
            if determinism is None
            else _describe(determinism, "a second process"),
        ),
    ]


def holdout_mismatches(proof: CausalityProof | None, holdout_start: int) -> list[str]:
    """The proof's mismatches first seen at a holdout bar, described (empty: none)."""
    if proof is None or not proof.complete:
        return []
    found = [
        (m, what)
        for m, what in (
            (proof.prefix, "the history ending there"),
            (proof.trailing, f"the {proof.trailing_window}-bar trailing window"),
            (proof.determinism, "a second process"),
        )
        if m is not None and m.bar >= holdout_start
    ]
    return [_describe(m, what) for m, what in sorted(found, key=lambda f: f[0].bar)]
