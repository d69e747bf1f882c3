"""Writing a candidate that passed gate 1 as a paper candidate:
``$RARA_HOME/strategies/promoted/<name>/`` with the source, a manifest (sha256, stage, data range,
trial ids) and the gate report. Nothing here trades."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rara.config import rara_home
from rara.domain.gate import GateReport
from rara.domain.market import Candles, Instrument, ms_to_iso
from rara.domain.strategy import source_sha256
from rara.research.models import Candidate
from rara_sandbox.manifest import MANIFEST_FILE, STRATEGY_FILE, render

STAGE = "paper_candidate"


def promoted_root() -> Path:
    return rara_home() / "strategies" / "promoted"


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_paper_candidate(
    run_id: str,
    experiment_id: str,
    cand: Candidate,
    report: GateReport,
    meta: dict[str, Any],
    inst: Instrument,
    candles: Candles,
) -> Path:
    """Returns the candidate's directory. Manifest keys match the shipped strategies' (from the
    sandbox-validated meta, never by running the code here) plus provenance."""
    sha = source_sha256(cand.source)
    root = promoted_root()
    name = str(meta["name"])
    target = root / name
    if (target / MANIFEST_FILE).exists():
        existing = json.loads((target / MANIFEST_FILE).read_text())
        if existing.get("sha256") != sha:  # same name, different code: keep both
            target = root / f"{name}-{sha[:8]}"
    target.mkdir(parents=True, exist_ok=True)
    manifest = {
        "name": name,
        "version": meta["version"],
        "api_version": meta["api_version"],
        "timeframe": meta["timeframe"],
        "lookback": meta["lookback"],
        "description": meta["description"],
        "params": cand.params or meta["params"],
        "source": STRATEGY_FILE,
        "sha256": sha,
        "stage": STAGE,
        "strategy_id": report.strategy_id,
        "run_id": run_id,
        "experiment_id": experiment_id,
        "instrument": inst.key,
        "data_range": [ms_to_iso(int(candles.ts[0])), ms_to_iso(int(candles.ts[-1]))],
        "split": report.split,
        "trial_ids": {k: v.trial_id for k, v in report.segments.items()},
        "hypothesis": cand.hypothesis.hypothesis,
    }
    _write(target / STRATEGY_FILE, cand.source)
    _write(target / "gate_report.json", json.dumps(report.model_dump(mode="json"), indent=2))
    _write(target / MANIFEST_FILE, render(manifest))  # last: a manifest means a complete dir
    return target
