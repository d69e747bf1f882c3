"""Result and error types shared by `evaluate` (which makes them) and `protocol` (which ships them).

Error codes are stable strings the host maps to its own error contract:

========================  =========================================================================
``bad_request``           the request itself is malformed (protocol, candles, windows)
``lint_failed``           static checks refused the source; ``lint`` holds the full report
``compile_error``         RestrictedPython refused to compile what lint accepted
``runtime_error``         the strategy raised (message names the exception, ``line`` its line)
``forbidden``             the strategy tried something the runtime refuses (attribute walk, write)
``bad_meta``              meta() returned something that is not a valid v1 meta dict
``bad_params``            the requested params do not fit meta()'s defaults
``bad_output``            on_candles/risk_levels returned the wrong shape, type, dtype or values
``timeout``               the causality proof ran past its own deadline (checked between bars)
``internal_error``        a bug on our side (the child survived it and still answers)
========================  =========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

BoolArr = npt.NDArray[np.bool_]
F64 = npt.NDArray[np.float64]
# A risk level: None (no level), one fraction for every bar, or one per bar (NaN = none that bar).
RiskLevel = float | F64 | None
JsonScalar = bool | int | float | str

ERROR_CODES = frozenset(
    {
        "bad_request",
        "lint_failed",
        "compile_error",
        "runtime_error",
        "forbidden",
        "bad_meta",
        "bad_params",
        "bad_output",
        "timeout",
        "internal_error",
    }
)


@dataclass(frozen=True)
class SandboxError:
    code: str
    message: str
    line: int | None = None  # 1-based line in the strategy source, when known
    window: int | None = None  # the window length n being evaluated, when it applies

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "line": self.line,
            "window": self.window,
        }


@dataclass(frozen=True)
class WindowResult:
    """Signals for the first ``n`` bars: one bool per bar, bar t computed from bars <= t."""

    n: int
    entries: BoolArr
    exits: BoolArr
    stop_loss: RiskLevel = None
    take_profit: RiskLevel = None


PROBE_KINDS = ("suffix", "perturb")


@dataclass(frozen=True)
class Probe:
    """A variant of the candles the host asks to be evaluated in the same process.

    ``suffix``: drop the first ``at`` bars (does the strategy need more history than its declared
    lookback?). ``perturb``: shuffle every bar after ``at`` with ``seed`` (do signals at or
    before ``at`` depend on later bars?).
    """

    kind: str
    at: int
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "at": self.at, "seed": self.seed}


@dataclass(frozen=True)
class ProbeResult:
    probe: Probe
    window: WindowResult


@dataclass(frozen=True)
class ProofSpec:
    """Ask for the exhaustive causality proof instead of windows and probes: for every bar t in
    ``from_bar``..N-1, the strategy on the prefix 0..t and on the ``trailing_window`` bars ending
    at t (each in a fresh module namespace with a fresh params copy), keeping the last bar of
    each. ``deadline_s``: the proof's own time budget, checked between bars. ``to_bar`` (None:
    N) ends it early: the first evaluation proves the first bars this way, a dense truncation
    check next to its windows and probes. ``prefixes`` False: the trailing windows only (what
    paper and live trading decide on, `rara.trading.signals`); no prefix is computed."""

    from_bar: int
    trailing_window: int
    deadline_s: float
    to_bar: int | None = None
    prefixes: bool = True

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "from_bar": self.from_bar,
            "trailing_window": self.trailing_window,
            "deadline_s": self.deadline_s,
            "to_bar": self.to_bar,
        }
        if not self.prefixes:  # on the wire only when asked: the proof's frames stay as they were
            out["prefixes"] = False
        return out


@dataclass(frozen=True)
class LastBars:
    """The last bar's outputs of one computation per proven bar: entries/exits as bools, risk
    levels as floats (NaN: no level at that bar, whether the strategy said None or NaN)."""

    entries: BoolArr
    exits: BoolArr
    stop_loss: F64
    take_profit: F64

    SERIES = ("entries", "exits", "stop_loss", "take_profit")


@dataclass(frozen=True)
class ProofResult:
    """What the proof computed for bars ``from_bar``..``from_bar + bars - 1``: `prefix` (history
    0..t; None when the spec asked for trailing windows only) and `trailing` (the
    ``trailing_window`` bars ending at t). The full history is the result's one window."""

    from_bar: int
    trailing_window: int
    prefix: LastBars | None
    trailing: LastBars

    @property
    def bars(self) -> int:
        return int(self.trailing.entries.shape[0])


@dataclass(frozen=True)
class EvaluationResult:
    ok: bool
    error: SandboxError | None = None
    meta: dict[str, Any] | None = None
    params: dict[str, JsonScalar] | None = None  # the effective params (defaults + overrides)
    windows: tuple[WindowResult, ...] = ()
    probes: tuple[ProbeResult, ...] = ()  # one per requested Probe, in request order
    proof: ProofResult | None = None  # when a ProofSpec was requested (windows: the full run)
    lint: dict[str, Any] | None = None  # LintReport.to_dict(), present whenever lint ran
    printed: str = ""
    print_truncated: bool = False
    timings_ms: dict[str, float] = field(default_factory=dict)
    runtime: dict[str, str] = field(default_factory=dict)  # versions inside the sandbox

    @property
    def failed(self) -> bool:
        """No usable signals came back: refused, raised, no meta, or no window computed. The one
        test every host caller uses before reading `meta` or `windows`."""
        return not self.ok or self.error is not None or self.meta is None or not self.windows

    def window(self, n: int) -> WindowResult:
        for w in self.windows:
            if w.n == n:
                return w
        raise KeyError(n)
