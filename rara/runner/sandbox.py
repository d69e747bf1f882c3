"""The `Sandbox` port: evaluate untrusted strategy source against candles, wherever it runs.

Three backends behind one small interface, the way httpx swaps transports:

- `JailSandbox` (default): a fresh jailed process per evaluation, forked from a warm zygote
  (namespaces, rlimits, uid drop, seccomp, Landlock; see `rara.runner.jail`);
- `ContainerSandbox`: one Docker container per evaluation (`rara.runner.container.runner`);
- `InProcessSandbox`: trusted test mode for our own reference strategies; no boundary at all.

Every backend takes the same request and returns the same `EvaluationResult`. What the boundary
itself did (timeout, memory limit, forbidden syscall, output flood...) comes back as an error
with that code, never as an exception: a daemon keeps running whatever a strategy does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from rara.domain.market import Candles
from rara_sandbox.protocol import ProtocolError, decode_response, encode_request
from rara_sandbox.results import EvaluationResult, Probe, SandboxError

ENTRY = "rara_sandbox.serve:handle_request"
# Imported in the zygote: a jailed child cannot load modules. unicodedata is what the parser
# needs for non-ASCII identifiers; encodings.idna for str(b, "idna").
WARM_MODULES = ("numpy", "RestrictedPython", "rara_sandbox.serve", "unicodedata", "encodings.idna")
BACKENDS = ("subprocess", "docker", "inprocess")
# What users may choose: the in-process mode has no boundary and is for tests of our own code.
BOUNDARIES = ("subprocess", "docker")


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
    name: str

    def evaluate(
        self,
        source: str,
        candles: Candles,
        params: Mapping[str, Any] | None = None,
        windows: Sequence[int] = (),
        probes: Sequence[Probe] = (),
    ) -> EvaluationResult: ...

    def layers(self) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


class InProcessSandbox:
    """Trusted test mode: runs the same runtime in this process. Only for code we wrote."""

    name = "inprocess"

    def evaluate(
        self,
        source: str,
        candles: Candles,
        params: Mapping[str, Any] | None = None,
        windows: Sequence[int] = (),
        probes: Sequence[Probe] = (),
    ) -> EvaluationResult:
        from rara_sandbox.evaluate import evaluate

        return evaluate(source, candle_columns(candles), params, windows, probes=probes)

    def layers(self) -> list[dict[str, Any]]:
        return [{"name": "restricted_python", "active": True, "detail": "lint layer only"}]

    def close(self) -> None:
        pass


class JailSandbox:
    """A jailed child per evaluation; the zygote is started on first use and reused."""

    name = "subprocess"

    def __init__(
        self, wall_s: float = 10.0, memory_mb: int = 1024, require: Sequence[str] = ()
    ) -> None:
        from rara.runner.jail.confine import Limits
        from rara.runner.jail.runner import JailedRunner

        self.limits = Limits(
            wall_s=wall_s, cpu_s=max(1, math.ceil(wall_s)), memory_bytes=memory_mb << 20
        )
        self._runner = JailedRunner(warm=WARM_MODULES, require=require, limits=self.limits)

    def evaluate(
        self,
        source: str,
        candles: Candles,
        params: Mapping[str, Any] | None = None,
        windows: Sequence[int] = (),
        probes: Sequence[Probe] = (),
    ) -> EvaluationResult:
        request = encode_request(source, candle_columns(candles), params, windows, probes=probes)
        result = self._runner.run(ENTRY, request, self.limits)
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


class ContainerSandbox:
    """One container per evaluation from the sandbox image (`rara sandbox build-image`)."""

    name = "docker"

    def __init__(
        self, wall_s: float = 10.0, memory_mb: int = 1024, image: str | None = None
    ) -> None:
        from rara.runner.container.runner import DEFAULT_IMAGE, ContainerLimits, ContainerRunner

        self.limits = ContainerLimits(wall_s=wall_s, memory_bytes=memory_mb << 20)
        self._docker = ContainerRunner(image or DEFAULT_IMAGE, self.limits)

    def evaluate(
        self,
        source: str,
        candles: Candles,
        params: Mapping[str, Any] | None = None,
        windows: Sequence[int] = (),
        probes: Sequence[Probe] = (),
    ) -> EvaluationResult:
        result, run = self._docker.evaluate(
            source, candle_columns(candles), params, windows, probes=probes
        )
        if result is not None:
            return result
        err = run.error
        return boundary_error(
            err.code if err else "crashed",
            err.message if err else f"container exited {run.exit_code}",
        )

    def layers(self) -> list[dict[str, Any]]:
        return [layer.to_dict() for layer in self._docker.protections()]

    def close(self) -> None:
        pass


def open_sandbox(
    backend: str = "subprocess", wall_s: float = 10.0, memory_mb: int = 1024
) -> Sandbox:
    if backend == "subprocess":
        return JailSandbox(wall_s, memory_mb)
    if backend == "docker":
        return ContainerSandbox(wall_s, memory_mb)
    if backend == "inprocess":
        return InProcessSandbox()
    raise ValueError(f"unknown sandbox backend {backend!r}; one of {', '.join(BACKENDS)}")
