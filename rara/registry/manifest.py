"""A promoted or installed strategy's manifest, ``<dir>/manifest.json``, as a typed value.

A manifest pins one strategy file: what its ``meta()`` declares (read in the sandbox, never by
running the code here), the file's sha256 and, for what research promoted, where it came from
(run, experiment, data range, the gate's trials, and any gate threshold loosened below its
default). A file that does not parse as one is refused
with a `ManifestError` naming the file and the field, never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rara.domain.gate import WeakenedThreshold
from rara.domain.strategy import StrategyMeta
from rara.errors import RaraError
from rara_sandbox.manifest import MANIFEST_FILE, STRATEGY_FILE, render


class ManifestError(RaraError):
    """A manifest on disk is missing, unreadable or not a manifest."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(
            "bad_manifest",
            f"{path}: {problem}",
            f"fix the file, or move {path.parent} out of {path.parent.parent}; "
            "`python -m rara_sandbox.manifest --check` shows what a shipped one should hold",
        )
        self.path = path
        self.problem = problem


class Manifest(StrategyMeta):
    """The declared meta plus the pins. The provenance fields are set on what research promoted
    and absent on the strategies shipped with rara."""

    source: str = STRATEGY_FILE
    sha256: str
    stage: str | None = None  # "paper_candidate" when research promoted it
    strategy_id: str | None = None
    run_id: str | None = None
    experiment_id: str | None = None
    instrument: str | None = None
    data_range: tuple[str, str] | None = None
    split: dict[str, Any] | None = None
    trial_ids: dict[str, str] | None = None
    hypothesis: str | None = None
    # the gate settings loosened below their defaults when it was promoted ([]: none)
    weakened: list[WeakenedThreshold] | None = None

    @property
    def meta(self) -> StrategyMeta:
        return StrategyMeta.model_validate(self.model_dump(include=set(StrategyMeta.model_fields)))

    def to_json(self) -> dict[str, Any]:
        """The keys the file holds (a shipped manifest gains no empty provenance keys)."""
        return self.model_dump(mode="json", exclude_unset=True)

    def render(self) -> str:
        """The file's text: sorted keys, the same as `rara_sandbox.manifest` writes."""
        return render(self.to_json())


def _describe(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'manifest'}: {err['msg']}"
        for err in exc.errors(include_url=False)
    )


def read_manifest(strategy_dir: Path) -> Manifest:
    """The manifest of one strategy directory; `ManifestError` if it is not a valid one."""
    path = strategy_dir / MANIFEST_FILE
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ManifestError(path, "missing") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(path, f"unreadable ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise ManifestError(path, f"not JSON ({exc})") from exc
    if not isinstance(body, dict):
        raise ManifestError(path, f"a manifest is a JSON object, not {type(body).__name__}")
    try:
        return Manifest.model_validate(body)
    except ValidationError as exc:
        raise ManifestError(path, _describe(exc)) from exc
