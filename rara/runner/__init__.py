"""Host side of the sandboxes: probing what this machine offers, and running candidates.

The port is `rara.runner.sandbox` (re-exported here): an `EvaluationRequest` in, an
`EvaluationResult` out, whichever backend runs it. Behind it, `rara.runner.jail` (the jailed
subprocess) and `rara.runner.container` (Docker); nothing else in rara imports those, except the
commands that build the image and report the host's layers. `capabilities` probes the host.

The names resolve on first use: the jail's zygote imports this package on its way to
`rara.runner.jail.zygote`, and must not load the port's dependencies (pydantic, the domain).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from rara.runner.sandbox import (
        BACKENDS,
        BOUNDARIES,
        ContainerSandbox,
        EvaluationRequest,
        InProcessSandbox,
        JailSandbox,
        ProofRequest,
        Sandbox,
        open_sandbox,
    )

__all__ = [
    "BACKENDS",
    "BOUNDARIES",
    "ContainerSandbox",
    "EvaluationRequest",
    "InProcessSandbox",
    "JailSandbox",
    "ProofRequest",
    "Sandbox",
    "open_sandbox",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("rara.runner.sandbox"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
