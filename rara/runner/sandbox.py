"""The `Sandbox` port: evaluate untrusted strategy source against candles, wherever it runs.

Three backends behind one small interface, the way httpx swaps transports:

- `JailSandbox` (backend "subprocess", the default): a fresh jailed process per evaluation,
  forked from a warm zygote (namespaces, rlimits, uid drop, seccomp, Landlock; `rara.runner.jail`);
- `ContainerSandbox` (backend "docker"): one Docker container per evaluation
  (`rara.runner.container`);
- `InProcessSandbox`: trusted test mode for our own reference strategies; no boundary at all.

Every backend takes the same `EvaluationRequest` and returns the same `EvaluationResult`. What the
boundary itself did (timeout, memory limit, forbidden syscall, output flood...) comes back as an
error with that code, never as an exception: a daemon keeps running whatever a strategy does.
A sandbox is a context manager; leaving the block closes it (the jail's zygote stops).

The backends' machinery is imported only when a backend is built, so neither `rara.runner.jail`
nor `rara.runner.container` imports this module, and the rest of rara imports only this one.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol, Self

from pydantic import BaseModel, ConfigDict, Field, InstanceOf

from rara.closing import Closing
from rara.domain.market import Candles
from rara_sandbox.protocol import ProtocolError, decode_response, encode_request
from rara_sandbox.results import EvaluationResult, Probe, ProofSpec, SandboxError

ENTRY = "rara_sandbox.serve:handle_request"
# Imported in the zygote: a jailed child cannot load modules. unicodedata is what the parser
# needs for non-ASCII identifiers; encodings.idna for str(b, "idna").
WARM_MODULES = ("numpy", "RestrictedPython", "rara_sandbox.serve", "unicodedata", "encodings.idna")
BACKENDS = ("subprocess", "docker", "inprocess")
# What users may choose: the in-process mode has no boundary and is for tests of our own code.
BOUNDARIES = ("subprocess", "docker")
DEFAULT_PROOF_US_PER_BAR = 20.0  # the `sandbox.proof_us_per_bar` setting's default


class ProofRequest(BaseModel):
    """Ask for the exhaustive causality proof (`rara_sandbox.proof`) instead of windows and
    probes: every prefix ending at from_bar..N-1 and the trailing window of `trailing_window`
    bars ending there. The sandbox gives it its own deadline, scaled to the work. With
    `prefixes` False, only the trailing windows (the signal path of paper and live trading)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    from_bar: int = Field(ge=0)
    trailing_window: int = Field(ge=1)
    prefixes: bool = True


class EvaluationRequest(BaseModel):
    """One evaluation: the strategy source, the candles, parameter overrides (None: the
    strategy's defaults), the prefix windows (bar counts) to evaluate besides the whole series,
    and the look-ahead probes (`rara_sandbox.results.Probe`) to run in the same process; or,
    with `proof`, the full history and the causality proof."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    source: str
    candles: InstanceOf[Candles]
    params: Mapping[str, Any] | None = None
    windows: tuple[int, ...] = ()
    probes: tuple[InstanceOf[Probe], ...] = ()
    proof: ProofRequest | None = None
    early_prefixes: int = Field(0, ge=0)  # prove bars 0..k-1 too, within the evaluation's time


def proof_deadline_s(n_bars: int, from_bar: int, base_s: float, us_per_bar: float) -> float:
    """The proof's deadline: `base_s` plus `us_per_bar` for every candle it hands the strategy
    (each prefix ending at from_bar..N-1 and, at most as long, each trailing window)."""
    proven = max(n_bars - from_bar, 0)
    candles_handed = proven * (n_bars + from_bar + 1)  # 2 x the prefixes' mean length
    return base_s + us_per_bar * 1e-6 * candles_handed


def proof_spec(request: EvaluationRequest, base_s: float, us_per_bar: float) -> ProofSpec | None:
    """What the runtime is asked to prove: the full proof with its own deadline, or the first
    `early_prefixes` bars within the evaluation's (`base_s`), or nothing."""
    p = request.proof
    if p is None:
        k = min(request.early_prefixes, len(request.candles))
        return ProofSpec(0, k, base_s, to_bar=k) if k else None
    n = len(request.candles)
    deadline = proof_deadline_s(n, p.from_bar, base_s, us_per_bar)
    return ProofSpec(p.from_bar, p.trailing_window, deadline, prefixes=p.prefixes)


def candle_columns(candles: Candles) -> dict[str, Any]:
    """The wire names of the candle arrays (the strategy facade's names)."""
    return {
        "timestamps": candles.ts,
        "open": candles.open,
        "high": candles.high,
        "low": candles.low,
        "close": candles.close,
        "volume": candles.volume,
    }


def boundary_error(code: str, message: str) -> EvaluationResult:
    return EvaluationResult(ok=False, error=SandboxError(code, message))


class Sandbox(Protocol):
    name: str  # the backend key: one of BACKENDS

    def evaluate(self, request: EvaluationRequest) -> EvaluationResult: ...

    def layers(self) -> list[dict[str, Any]]:
        """The protections this backend applies on this machine, each active or not and why."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class InProcessSandbox(Closing):
    """Trusted test mode: runs the same runtime in this process. Only for code we wrote."""

    name = "inprocess"

    def __init__(
        self, wall_s: float = 10.0, proof_us_per_bar: float = DEFAULT_PROOF_US_PER_BAR
    ) -> None:
        # no boundary kills anything here: the proof's deadline is the only one (checked between
        # bars by the runtime itself)
        self.wall_s, self.proof_us_per_bar = wall_s, proof_us_per_bar

    def evaluate(self, request: EvaluationRequest) -> EvaluationResult:
        from rara_sandbox.evaluate import evaluate

        return evaluate(
            request.source,
            candle_columns(request.candles),
            request.params,
            request.windows,
            probes=request.probes,
            proof=proof_spec(request, self.wall_s, self.proof_us_per_bar),
        )

    def layers(self) -> list[dict[str, Any]]:
        return [{"name": "restricted_python", "active": True, "detail": "lint layer only"}]


class JailSandbox(Closing):
    """A jailed child per evaluation; the zygote is started on first use and reused."""

    name = "subprocess"

    def __init__(
        self,
        wall_s: float = 10.0,
        memory_mb: int = 1024,
        require: Sequence[str] = (),
        proof_us_per_bar: float = DEFAULT_PROOF_US_PER_BAR,
        *,
        entry: str = ENTRY,
        warm: Sequence[str] = WARM_MODULES,
        sys_path: Sequence[str] | None = None,
    ) -> None:
        """`entry`, `warm` and `sys_path`: another bytes -> bytes entry speaking the same
        protocol (tests only: the jail tests' own entries)."""
        from rara.runner.jail.confine import Limits
        from rara.runner.jail.runner import JailedRunner

        self.limits = Limits(
            wall_s=wall_s, cpu_s=max(1, math.ceil(wall_s)), memory_bytes=memory_mb << 20
        )
        self.proof_us_per_bar, self.entry = proof_us_per_bar, entry
        self._runner = JailedRunner(
            warm=tuple(warm), require=require, limits=self.limits, sys_path=sys_path
        )

    def evaluate(self, request: EvaluationRequest) -> EvaluationResult:
        spec = proof_spec(request, self.limits.wall_s, self.proof_us_per_bar)
        frame = encode_request(
            request.source,
            candle_columns(request.candles),
            request.params,
            request.windows,
            probes=request.probes,
            proof=spec,
        )
        limits = self.limits
        if request.proof is not None:  # the runtime stops at its deadline; the kill a wall_s later
            assert spec is not None
            wall = spec.deadline_s + self.limits.wall_s
            limits = dataclasses.replace(limits, wall_s=wall, cpu_s=math.ceil(wall))
        result = self._runner.run(self.entry, frame, limits)
        if not result.ok or result.response is None:
            return boundary_error(result.error or "crashed", result.message)
        try:
            return decode_response(result.response, max_bytes=self.limits.max_output)
        except ProtocolError as exc:
            return boundary_error("protocol_error", f"unreadable response: {exc}")

    def layers(self) -> list[dict[str, Any]]:
        return [layer.to_dict() for layer in self._runner.layers()]

    def close(self) -> None:
        self._runner.close()


class ContainerSandbox(Closing):
    """One container per evaluation from the sandbox image (`rara sandbox build-image`)."""

    name = "docker"

    def __init__(
        self,
        wall_s: float = 10.0,
        memory_mb: int = 1024,
        image: str | None = None,
        proof_us_per_bar: float = DEFAULT_PROOF_US_PER_BAR,
        cpus: float = 1.0,
    ) -> None:
        from rara.runner.container.runner import DEFAULT_IMAGE, ContainerLimits, ContainerRunner

        self.limits = ContainerLimits(wall_s=wall_s, memory_bytes=memory_mb << 20, cpus=cpus)
        self.proof_us_per_bar = proof_us_per_bar
        self._runner = ContainerRunner(image or DEFAULT_IMAGE, self.limits)

    def evaluate(self, request: EvaluationRequest) -> EvaluationResult:
        spec = proof_spec(request, self.limits.wall_s, self.proof_us_per_bar)
        limits = self.limits
        if request.proof is not None:  # the runtime stops at its deadline; the kill a wall_s later
            assert spec is not None
            limits = dataclasses.replace(limits, wall_s=spec.deadline_s + self.limits.wall_s)
        result, run = self._runner.evaluate(
            request.source,
            candle_columns(request.candles),
            request.params,
            request.windows,
            limits=limits,
            probes=request.probes,
            proof=spec,
        )
        if result is not None:
            return result
        err = run.error
        return boundary_error(
            err.code if err else "crashed",
            err.message if err else f"container exited {run.exit_code}",
        )

    def layers(self) -> list[dict[str, Any]]:
        return [layer.to_dict() for layer in self._runner.protections()]


def open_sandbox(
    backend: str = "subprocess",
    wall_s: float = 10.0,
    memory_mb: int = 1024,
    proof_us_per_bar: float = DEFAULT_PROOF_US_PER_BAR,
    cpus: float = 1.0,
    image: str | None = None,
) -> Sandbox:
    """`cpus` and `image`: the docker backend's CPU quota and image (the jail is one process, so
    one CPU at most)."""
    if backend == "subprocess":
        return JailSandbox(wall_s, memory_mb, proof_us_per_bar=proof_us_per_bar)
    if backend == "docker":
        return ContainerSandbox(wall_s, memory_mb, image, proof_us_per_bar, cpus)
    if backend == "inprocess":
        return InProcessSandbox(wall_s, proof_us_per_bar)
    raise ValueError(f"unknown sandbox backend {backend!r}; one of {', '.join(BACKENDS)}")


def container_image_present(image: str, timeout: float = 10.0) -> tuple[bool, str]:
    """Whether the Docker engine holds the container sandbox's image (`rara sandbox
    build-image`): (present, what was found)."""
    from rara.runner.container.io import connect

    try:
        connect(timeout=timeout).images.get(image)
    except Exception as exc:  # RaraError (no engine after all), or the SDK's ImageNotFound
        return False, f"{image}: {exc}"
    return True, image
