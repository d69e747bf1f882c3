"""Look-ahead and warm-up checks: does a strategy use bars it could not have seen?

All three run inside the candidate's one sandbox evaluation, at positions drawn from a seed the
strategy cannot know (`plan`, `probe_seed`). They are cheap and sample; before anything is
promoted the gate proves causality on every bar (`rara.validation.causality`).

- truncation: signals computed on history cut at several points (among the first bars, anywhere,
  among the last bars) must equal the full-history signals up to each cut;
- perturbation: shuffling every bar after t must not change any signal at or before t;
- warm-up: dropping early history must not change signals once the declared ``lookback`` bars of
  the shorter history have passed (an EMA declared with too short a lookback fails this).

A failure names the check, the first differing bar and both values. Signals are booleans and the
indicator library is bit-for-bit causal, so comparisons are exact.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rara_sandbox.results import EvaluationResult, Probe, ProofResult, WindowResult

SIGNALS = ("entries", "exits")


@dataclass(frozen=True)
class LookaheadPlan:
    windows: tuple[int, ...]
    probes: tuple[Probe, ...]
    early_prefixes: int = 0  # every prefix ending at bars 0..k-1, last bar kept


@dataclass(frozen=True)
class CheckOutcome:
    name: str  # truncation | perturbation | warmup
    passed: bool
    detail: str
    variant: str = ""  # e.g. "cut at 1200", "shuffled after 3000", "history from 500"
    signal: str | None = None  # entries | exits | stop_loss | take_profit
    first_bar: int | None = None  # index into the full history
    full_value: Any = None
    variant_value: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


# How many cheap probes of each kind: fixed, so the first evaluation's cost is bounded (about a
# dozen full-history evaluations), whatever the history's length.
EDGE_CUTS = 3  # cuts among the first bars, and as many among the last bars
SPREAD_CUTS = 6  # cuts anywhere in the history
PERTURB_POINTS = 4  # one among the first bars, one among the last, the rest anywhere
SUFFIXES = 2
EDGE_BARS = 50  # "the first/last bars": this many, or a tenth of a shorter history
EARLY_PREFIXES = 64  # the first bars, where a probe rarely falls, are proven one by one (cheap)


def probe_seed(run_seed: int, source_sha256: str) -> int:
    """The probes' seed: from the run's seed and the source's sha256, so the same run draws the
    same probes (reproducible) while the source, which cannot contain its own hash, cannot
    know where they fall."""
    digest = hashlib.sha256(f"{run_seed}:{source_sha256}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _draw(rng: np.random.Generator, lo: int, hi: int, k: int) -> set[int]:
    """k distinct ints in [lo, hi) (fewer when the range is smaller)."""
    if hi <= lo:
        return set()
    return {int(x) for x in rng.choice(np.arange(lo, hi), size=min(k, hi - lo), replace=False)}


def plan(n_bars: int, seed: int = 0) -> LookaheadPlan:
    """Cut points and probes for a history of ``n_bars``, drawn from ``seed`` (see `probe_seed`):
    cuts among the first bars, among the last bars and anywhere; perturbation points likewise;
    suffix starts in the first tenth and the first third. Deterministic for a seed.

    Independent of the strategy's declared lookback on purpose: that comes from its ``meta()``,
    which is untrusted code, and the plan must be fixed before the one sandboxed evaluation.
    """
    if n_bars < 8:
        raise ValueError("look-ahead checks need at least 8 bars")
    rng = np.random.default_rng(seed)
    edge = max(2, min(EDGE_BARS, n_bars // 10))
    # a window is a prefix length in 1..n-1: it ends at bar w-1, so the last bars are n-edge..n-1
    cuts = _draw(rng, 1, edge + 1, EDGE_CUTS) | _draw(rng, n_bars - edge, n_bars, EDGE_CUTS)
    cuts |= _draw(rng, 1, n_bars, SPREAD_CUTS)
    windows = tuple(sorted(c for c in cuts if 1 <= c < n_bars))
    # a perturbation point t shuffles bars t+1..n-1, so t <= n-2
    points = _draw(rng, 1, edge + 1, 1) | _draw(rng, n_bars - 1 - edge, n_bars - 1, 1)
    points |= _draw(rng, 1, n_bars - 1, PERTURB_POINTS - len(points))
    probes = [
        Probe("perturb", t, int(rng.integers(0, 2**31)))
        for t in sorted(points)
        if 1 <= t <= n_bars - 2
    ]
    # warm-up: one history starting within the first tenth (a long declared lookback still
    # leaves bars to compare there), one between a tenth and a third of the way in
    tenth = max(2, n_bars // 10)
    suffixes = _draw(rng, max(1, n_bars // 20), tenth + 1, 1)
    suffixes |= _draw(rng, tenth, max(tenth + 1, n_bars // 3), SUFFIXES - 1)
    probes += [Probe("suffix", s) for s in sorted(suffixes) if s >= 1]
    return LookaheadPlan(windows, tuple(probes), min(EARLY_PREFIXES, n_bars))


def first_difference(a: Any, b: Any, rtol: float = 0.0) -> int | None:
    """Index of the first difference between two signal/risk series (None when equal)."""
    if a is None and b is None:
        return None
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)) or a.shape != b.shape:
            return 0
        if a.dtype.kind == "f":
            same = (
                np.isclose(a, b, rtol=rtol, atol=0.0, equal_nan=True)
                if rtol
                else ((a == b) | (np.isnan(a) & np.isnan(b)))
            )
        else:
            same = a == b
        bad = np.flatnonzero(~same)
        return int(bad[0]) if bad.size else None
    return None if a == b else 0


# Recursive smoothers (EMA, Wilder's RSI/ATR) never forget history exactly; past an honest
# lookback the difference in a float risk level is below this. Signals are compared exactly.
WARMUP_RTOL = 1e-6


def risk_at_bars(level: Any, lo: int, hi: int) -> npt.NDArray[np.float64]:
    """A risk level (None, one fraction, or one per bar) as bars lo..hi-1's floats; NaN: none."""
    if isinstance(level, np.ndarray):
        return np.asarray(level[lo:hi], dtype=np.float64)
    return np.full(hi - lo, np.nan if level is None else float(level))


def _early_failure(full: WindowResult, proof: ProofResult) -> CheckOutcome | None:
    """The first of the first bars whose prefix (history ending there) disagrees with the full
    history (exactly)."""
    lo, hi = proof.from_bar, proof.from_bar + proof.bars
    for sig in (*SIGNALS, "stop_loss", "take_profit"):
        a = (
            getattr(full, sig)[lo:hi]
            if sig in SIGNALS
            else risk_at_bars(getattr(full, sig), lo, hi)
        )
        b = getattr(proof.prefix, sig)
        i = first_difference(a, b)
        if i is not None:
            bar, av, bv = lo + i, a[i].item(), b[i].item()
            variant = f"history ending at bar {bar}"
            detail = (
                f"truncation: {sig} at bar {bar} is {av} with full history but {bv} with {variant}"
            )
            return CheckOutcome("truncation", False, detail, variant, sig, bar, av, bv)
    return None


def _sliced(w: WindowResult, name: str, lo: int, hi: int) -> Any:
    v = getattr(w, name)
    return v[lo:hi] if isinstance(v, np.ndarray) else v


def _compare(
    name: str,
    variant: str,
    full: WindowResult,
    other: WindowResult,
    full_lo: int,
    other_lo: int,
    length: int,
    rtol: float = 0.0,
) -> CheckOutcome | None:
    """The earliest bar (over every series) where `other` disagrees with the full history."""
    first: tuple[int, str, Any, Any] | None = None
    for sig in (*SIGNALS, "stop_loss", "take_profit"):
        a = _sliced(full, sig, full_lo, full_lo + length)
        b = _sliced(other, sig, other_lo, other_lo + length)
        i = first_difference(a, b, rtol if sig not in SIGNALS else 0.0)
        if i is not None and (first is None or full_lo + i < first[0]):
            av = a[i].item() if isinstance(a, np.ndarray) else a
            bv = b[i].item() if isinstance(b, np.ndarray) else b
            first = (full_lo + i, sig, av, bv)
    if first is None:
        return None
    bar, sig, av, bv = first
    return CheckOutcome(
        name,
        False,
        f"{name}: {sig} at bar {bar} is {av} with full history but {bv} with {variant}",
        variant,
        sig,
        bar,
        av,
        bv,
    )


def _earliest(
    failures: list[CheckOutcome], holdout_start: int | None
) -> tuple[CheckOutcome | None, CheckOutcome | None]:
    """The earliest failure before the holdout, and the earliest at or after its start. A failure
    without a bar (an untestable lookback) belongs before it."""

    def bar(o: CheckOutcome) -> int:
        return -1 if o.first_bar is None else o.first_bar

    ordered = sorted(failures, key=bar)
    if holdout_start is None:
        return (ordered[0] if ordered else None), None
    before = next((o for o in ordered if bar(o) < holdout_start), None)
    after = next((o for o in ordered if bar(o) >= holdout_start), None)
    return before, after


@dataclass(frozen=True)
class LookaheadOutcomes:
    """The cheap checks' outcomes, split at the holdout: `learnable` judges the bars before it
    (what a proposer may learn from), `holdout` is the earliest failure at a holdout bar (None:
    none), part of the hidden decision like the holdout itself."""

    learnable: tuple[CheckOutcome, ...]
    holdout: CheckOutcome | None = None


def check(
    result: EvaluationResult, lookback: int, holdout_start: int | None = None
) -> LookaheadOutcomes:
    """Compare every window and probe in ``result`` against the full-history window. For a
    causal strategy a comparison's values before ``holdout_start`` do not depend on the holdout's
    bars, so its earliest failure there does not either; failures first seen at holdout bars are
    kept apart (`LookaheadOutcomes.holdout`)."""
    if result.failed:
        raise ValueError("look-ahead checks need a successful evaluation")
    full = result.windows[-1]
    n = full.n
    cut_fails = [
        f
        for w in result.windows[:-1]
        if (f := _compare("truncation", f"history cut at {w.n} bars", full, w, 0, 0, w.n))
        is not None
    ]
    if result.proof is not None and (early := _early_failure(full, result.proof)) is not None:
        cut_fails.append(early)
    perturbs = [p for p in result.probes if p.probe.kind == "perturb"]
    pert_fails = [
        f
        for p in perturbs
        if (
            f := _compare(
                "perturbation",
                f"bars after {p.probe.at} shuffled",
                full,
                p.window,
                0,
                0,
                p.probe.at + 1,
            )
        )
        is not None
    ]
    suffixes = [p for p in result.probes if p.probe.kind == "suffix"]
    testable = [p for p in suffixes if n - p.probe.at > lookback + 1]
    warm_fails: list[CheckOutcome] = []
    if suffixes and not testable:
        warm_fails.append(
            CheckOutcome(
                "warmup",
                False,
                f"declared lookback {lookback} leaves no bars "
                f"to compare in a {n}-bar history; it cannot be tested",
            )
        )
    for p in testable:
        start = p.probe.at
        fail = _compare(
            "warmup",
            f"history starting at bar {start} (lookback {lookback})",
            full,
            p.window,
            start + lookback,
            lookback,
            n - start - lookback,
            WARMUP_RTOL,
        )
        if fail is not None:
            warm_fails.append(fail)
    cuts = [w.n for w in result.windows[:-1]]
    proven = f" and on every prefix ending before bar {result.proof.bars}" if result.proof else ""
    passed = {
        "truncation": f"signals equal at cuts {cuts}{proven}",
        "perturbation": f"signals unchanged by shuffling after {[p.probe.at for p in perturbs]}",
        "warmup": f"signals after the {lookback}-bar lookback independent of earlier history",
    }
    learnable: list[CheckOutcome] = []
    late: list[CheckOutcome] = []
    for name, fails in (
        ("truncation", cut_fails),
        ("perturbation", pert_fails),
        ("warmup", warm_fails),
    ):
        before, after = _earliest(fails, holdout_start)
        learnable.append(before or CheckOutcome(name, True, passed[name]))
        if after is not None:
            late.append(after)
    _, first_late = _earliest(late, holdout_start)
    return LookaheadOutcomes(tuple(learnable), first_late)
