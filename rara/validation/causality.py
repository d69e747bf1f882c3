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

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from rara.domain.gate import GateCheck

__all__ = ["CausalityProof", "CausalityProver", "Mismatch", "causality_checks"]


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


def _describe(m: Mismatch, what: str) -> str:
    return (
        f"{m.series} at bar {m.bar} is {m.full_value} with full history but {m.other_value} "
        f"with {what}"
    )


def causality_checks(proof: CausalityProof | None) -> list[GateCheck]:
    """The proof's three report lines. No proof (no prover given, or it failed) fails all three:
    nothing is promoted on an unproven claim."""
    if proof is None or not proof.complete:
        why = "not proven: no prover" if proof is None else f"not proven: {proof.error}"
        return [
            GateCheck(name=name, passed=False, detail=why)
            for name in ("lookahead.exhaustive", "lookahead.trailing_window", "determinism")
        ]
    span = f"bars {proof.from_bar}..{proof.from_bar + proof.bars - 1}"
    return [
        GateCheck(
            name="lookahead.exhaustive",
            passed=proof.prefix is None,
            value=None if proof.prefix is None else proof.prefix.bar,
            detail=f"prefix signals equal full-history signals on {span}"
            if proof.prefix is None
            else _describe(proof.prefix, f"history ending at bar {proof.prefix.bar}"),
        ),
        GateCheck(
            name="lookahead.trailing_window",
            passed=proof.trailing is None,
            value=None if proof.trailing is None else proof.trailing.bar,
            threshold=proof.trailing_window,
            detail=f"{proof.trailing_window}-bar trailing windows agree on {span}"
            if proof.trailing is None
            else _describe(proof.trailing, f"the {proof.trailing_window}-bar trailing window"),
        ),
        GateCheck(
            name="determinism",
            passed=proof.determinism is None,
            value=None if proof.determinism is None else proof.determinism.bar,
            detail="the same signals in a second, separate process"
            if proof.determinism is None
            else _describe(proof.determinism, "a second process"),
        ),
    ]
