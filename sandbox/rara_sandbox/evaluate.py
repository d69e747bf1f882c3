"""Evaluate one strategy source: lint, compile, meta, params, then every requested window.

A window is a prefix length n: the strategy sees bars 0..n-1 exactly as it would have at the close
of bar n-1. The host compares the signals of shorter windows with the prefix of the full run to
catch look-ahead; this module only produces them, honestly:

* windows run shortest first, each in a freshly executed module namespace with a fresh params
  copy, so nothing computed on a longer history can leak into a shorter one;
* outputs are validated (bool arrays, exactly one per bar) and copied, never coerced;
* every failure is an `EvaluationResult` with a stable error code, never an exception.

With a `ProofSpec` instead of windows and probes, the full history is evaluated once and then the
exhaustive causality proof (`rara_sandbox.proof`) runs every prefix in this same process. Every
evaluation starts from a random heap layout (`rara_sandbox.heap`), so two processes differ.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import CodeType, FunctionType
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import RestrictedPython

from rara_sandbox.addresses import SandboxViolation
from rara_sandbox.candles import Candles
from rara_sandbox.heap import randomise_heap_layout
from rara_sandbox.lint import lint as lint_source
from rara_sandbox.printing import DEFAULT_PRINT_LIMIT, PrintBuffer
from rara_sandbox.proof import ProofTimeout, check_spec, prove
from rara_sandbox.restricted import STRATEGY_FILENAME, CompileFailed, compile_strategy, exec_module
from rara_sandbox.results import (
    PROBE_KINDS,
    EvaluationResult,
    JsonScalar,
    Probe,
    ProbeResult,
    ProofResult,
    ProofSpec,
    RiskLevel,
    SandboxError,
    WindowResult,
)
from rara_sandbox.validate import (
    Invalid,
    check_risk,
    check_signals,
    last_levels,
    last_signals,
    merge_params,
    validate_meta,
)
from rara_sandbox.version import __version__

MAX_WINDOWS = 64
MAX_MESSAGE = 2_000


def _dist_version(module_file: str | None, dist: str) -> str:
    # importlib.metadata costs ~70 ms of import time in every sandbox process; the dist-info
    # directory name next to the package says the same thing for the price of one listdir.
    # Installers normalise the directory name's case differently, hence the lower().
    prefix = dist.lower() + "-"
    try:
        for p in Path(module_file or "/nonexistent/x").resolve().parents[1].iterdir():
            if p.name.lower().startswith(prefix) and p.name.endswith(".dist-info"):
                return p.name[len(prefix) : -len(".dist-info")]
    except OSError:  # an unreadable site-packages inside a jail is not worth failing over
        pass
    return "unknown"


def runtime_info() -> dict[str, str]:
    return {
        "rara_sandbox": __version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "restrictedpython": _dist_version(RestrictedPython.__file__, "RestrictedPython"),
    }


class _Failed(Exception):
    def __init__(self, error: SandboxError) -> None:
        super().__init__(error.message)
        self.error = error


def _strategy_line(tb: Any) -> int | None:
    """The innermost traceback line that belongs to the strategy source."""
    line = None
    for frame, lineno in traceback.walk_tb(tb):
        if frame.f_code.co_filename == STRATEGY_FILENAME:
            line = lineno
    return line


def _call(what: str, fn: Callable[..., Any], *args: object, window: int | None = None) -> Any:
    """Run strategy code; turn any exception into a coded SandboxError."""
    try:
        with np.errstate(all="ignore"):
            return fn(*args)
    except Exception as e:  # strategy code may raise anything; that is the point of catching
        line = _strategy_line(e.__traceback__)
        text = f"{type(e).__name__}: {e}"[:MAX_MESSAGE]
        code = "runtime_error"
        if isinstance(e, SandboxViolation):
            code = "forbidden"
        elif isinstance(e, ImportError):  # no __import__ in the builtins
            code, text = "forbidden", "imports are not available in strategies"
        elif isinstance(e, NameError) and "__build_class__" in str(e):
            code, text = "forbidden", "class definitions are not available in strategies"
        raise _Failed(SandboxError(code, f"{what}: {text}", line, window)) from None


def _function(namespace: Mapping[str, object], name: str) -> FunctionType | None:
    fn = namespace.get(name)
    return fn if type(fn) is FunctionType else None


def _check_windows(windows: Sequence[int], total: int) -> tuple[int, ...]:
    if total == 0:
        raise _Failed(SandboxError("bad_request", "no candles to evaluate"))
    ws = list(windows)
    if any(type(w) is not int for w in ws):
        raise _Failed(SandboxError("bad_request", "windows must be ints"))
    if ws != sorted(set(ws)) or (ws and not 1 <= ws[0] <= ws[-1] <= total):
        raise _Failed(
            SandboxError("bad_request", f"windows must be strictly increasing in 1..{total}")
        )
    if not ws or ws[-1] != total:
        ws.append(total)  # the full history is always evaluated
    if len(ws) > MAX_WINDOWS:
        raise _Failed(SandboxError("bad_request", f"at most {MAX_WINDOWS} windows"))
    return tuple(ws)


def _check_probes(probes: Sequence[Probe], total: int) -> tuple[Probe, ...]:
    out = tuple(probes)
    if len(out) > MAX_WINDOWS:
        raise _Failed(SandboxError("bad_request", f"at most {MAX_WINDOWS} probes"))
    for p in out:
        if p.kind not in PROBE_KINDS or type(p.at) is not int or type(p.seed) is not int:
            raise _Failed(SandboxError("bad_request", f"bad probe {p}"))
        if not 1 <= p.at <= total - 2:
            raise _Failed(SandboxError("bad_request", f"probe point {p.at} outside 1..{total - 2}"))
    return out


def _variant(bars: Candles, probe: Probe) -> Candles | None:
    """The candles a probe runs on; None when they are the full history itself (a shuffle that
    left every bar in place), whose result is already known."""
    if probe.kind == "suffix":
        return bars.suffix(probe.at)
    order = bars.perturbation(probe.at, probe.seed)
    if np.array_equal(order, np.arange(len(bars))):
        return None
    return bars.reordered(order)


def _load(code: CodeType, printer: PrintBuffer, window: int | None) -> dict[str, object]:
    return _call("module", exec_module, code, printer, window=window)  # type: ignore[no-any-return]


def _meta(code: CodeType, printer: PrintBuffer) -> dict[str, Any]:
    fn = _function(_load(code, printer, None), "meta")
    if fn is None:
        raise _Failed(SandboxError("bad_meta", "meta is not a function"))
    raw = _call("meta()", fn)
    try:
        return validate_meta(raw)
    except Invalid as e:
        raise _Failed(SandboxError(e.code, e.message)) from None


_S = TypeVar("_S")  # what the signals read as: full arrays, or the last bar
_R = TypeVar("_R")  # likewise the risk levels


def _run_strategy(
    code: CodeType,
    printer: PrintBuffer,
    candles: Candles,
    params: dict[str, JsonScalar],
    signals: Callable[[Any, int], _S],
    levels: Callable[[Any, int], _R],
    no_levels: _R,
) -> tuple[_S, _R]:
    """Run `on_candles` (then `risk_levels`, when defined) on `candles` in a fresh module
    namespace with a fresh params copy, reading their outputs with `signals` and `levels`.

    The params copy is a new dict: its values are JSON scalars (immutable, `merge_params`), so
    a shallow copy is as fresh as a deep one at a fraction of the cost."""
    n = len(candles)
    namespace = _load(code, printer, n)
    on_candles = _function(namespace, "on_candles")
    if on_candles is None:
        raise _Failed(SandboxError("bad_output", "on_candles is not a function", window=n))
    try:
        out = _call("on_candles()", on_candles, candles, dict(params), window=n)
        read = signals(out, n)
        risk = _function(namespace, "risk_levels")
        if risk is None:
            return read, no_levels
        raw = _call("risk_levels()", risk, candles, dict(params), window=n)
        return read, levels(raw, n)
    except Invalid as e:
        raise _Failed(SandboxError(e.code, e.message, window=n)) from None


def _window(
    code: CodeType, printer: PrintBuffer, candles: Candles, params: dict[str, JsonScalar]
) -> WindowResult:
    none: tuple[RiskLevel, RiskLevel] = (None, None)
    (entries, exits), (stop, take) = _run_strategy(
        code, printer, candles, params, check_signals, check_risk, none
    )
    return WindowResult(len(candles), entries, exits, stop, take)


def _last_of(w: WindowResult) -> tuple[bool, bool, float, float]:
    """A whole window's last bar, as `_last_bar` reads it from the same computation."""

    def level(v: RiskLevel) -> float:
        if v is None:
            return float("nan")
        return float(v[-1]) if isinstance(v, np.ndarray) else float(v)

    return bool(w.entries[-1]), bool(w.exits[-1]), level(w.stop_loss), level(w.take_profit)


def _last_bar(
    code: CodeType, printer: PrintBuffer, candles: Candles, params: dict[str, JsonScalar]
) -> tuple[bool, bool, float, float]:
    """`_window`, keeping only the last bar (the proof's unit of work): same fresh namespace and
    params copy, same validation, no n-bar copies."""
    nan = float("nan")
    (entry, exit_), (stop, take) = _run_strategy(
        code, printer, candles, params, last_signals, last_levels, (nan, nan)
    )
    return entry, exit_, stop, take


def evaluate(
    source: str,
    candles: Mapping[str, npt.NDArray[Any]],
    params: Mapping[str, object] | None = None,
    windows: Sequence[int] = (),
    *,
    probes: Sequence[Probe] = (),
    print_limit: int = DEFAULT_PRINT_LIMIT,
    proof: ProofSpec | None = None,
) -> EvaluationResult:
    """Lint, compile and run `source` on each prefix window of `candles`, then on each probe
    variant (suffix or perturbed copy, see `Probe`), all in this one process. With `proof`: the
    full history, then the causality proof (windows and probes must be empty).

    candles: exactly ``timestamps`` (int64 epoch ms, bar open time) and ``open/high/low/close/
    volume`` (float64), 1-D, equal length N. params: overrides of meta()'s defaults (None: the
    defaults). windows: strictly increasing prefix lengths in 1..N; N is appended if absent.
    Never raises for anything the strategy does; the result carries a coded error instead.
    """
    randomise_heap_layout()
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    printer = PrintBuffer(print_limit)
    state: dict[str, Any] = {"meta": None, "params": None, "lint": None}
    done: list[WindowResult] = []
    probed: list[ProbeResult] = []
    proven: list[ProofResult] = []

    def lap(name: str, start: float) -> float:
        now = time.perf_counter()
        timings[name] = round((now - start) * 1000.0, 3)
        return now

    def result(error: SandboxError | None) -> EvaluationResult:
        timings["total"] = round((time.perf_counter() - t0) * 1000.0, 3)
        return EvaluationResult(
            ok=error is None,
            error=error,
            meta=state["meta"],
            params=state["params"],
            windows=tuple(done) if error is None else (),
            probes=tuple(probed) if error is None else (),
            proof=proven[0] if proven and error is None else None,
            lint=state["lint"],
            printed=printer.text,
            print_truncated=printer.truncated,
            timings_ms=timings,
            runtime=runtime_info(),
        )

    try:
        if not isinstance(source, str):
            raise _Failed(SandboxError("bad_request", "source must be a string"))
        try:
            bars = Candles(candles)
        except ValueError as e:
            raise _Failed(SandboxError("bad_request", str(e))) from None
        ws = _check_windows(windows, len(bars))
        ps = _check_probes(probes, len(bars))
        if proof is not None:
            why = check_spec(proof, len(bars))
            if why is None and proof.to_bar is None and (list(windows) or ps):
                why = "a proof to the last bar carries no windows or probes"
            if why is not None:
                raise _Failed(SandboxError("bad_request", why))
        report = lint_source(source)
        state["lint"] = report.to_dict()
        t = lap("lint", t0)
        if not report.ok:
            raise _Failed(SandboxError("lint_failed", report.summary()[:MAX_MESSAGE]))
        try:
            code = compile_strategy(source)
        except CompileFailed as e:
            raise _Failed(SandboxError("compile_error", e.message[:MAX_MESSAGE], e.line)) from None
        t = lap("compile", t)
        state["meta"] = meta = _meta(code, printer)
        try:
            state["params"] = params_ = merge_params(meta["params"], params)
        except Invalid as e:
            raise _Failed(SandboxError(e.code, e.message)) from None
        t = lap("meta", t)
        for n in ws:
            done.append(_window(code, printer, bars.window(n), params_))
        t = lap("windows", t)
        for probe in ps:
            variant = _variant(bars, probe)
            probed.append(
                ProbeResult(
                    probe, done[-1] if variant is None else _window(code, printer, variant, params_)
                )
            )
        if ps:
            t = lap("probes", t)
        if proof is not None:
            # One evaluation per prefix length: a prefix the windows already ran whole is not
            # run again for its last bar (the same candles, namespace rule and params copy).
            known = {w.n: _last_of(w) for w in done}
            try:
                proven.append(
                    prove(lambda c: _last_bar(code, printer, c, params_), bars, proof, t0, known)
                )
            except ProofTimeout as e:
                raise _Failed(SandboxError("timeout", str(e))) from None
            lap("proof", t)
        return result(None)
    except _Failed as f:
        return result(f.error)
    except Exception as e:  # our bug, not the strategy's: still answer, with a distinct code
        return result(SandboxError("internal_error", f"{type(e).__name__}: {e}"[:MAX_MESSAGE]))


def inspect_meta(source: str) -> EvaluationResult:
    """Lint and compile `source` and return its validated meta() (no candles needed)."""
    printer = PrintBuffer()
    report = lint_source(source)
    try:
        if not report.ok:
            raise _Failed(SandboxError("lint_failed", report.summary()[:MAX_MESSAGE]))
        try:
            code = compile_strategy(source)
        except CompileFailed as e:
            raise _Failed(SandboxError("compile_error", e.message, e.line)) from None
        meta = _meta(code, printer)
        return EvaluationResult(
            ok=True,
            meta=meta,
            params=dict(meta["params"]),
            lint=report.to_dict(),
            printed=printer.text,
        )
    except _Failed as f:
        return EvaluationResult(
            ok=False, error=f.error, lint=report.to_dict(), printed=printer.text
        )
