"""Writing a candidate that passed gate 1 as a paper candidate, through the registry
(`Registry.add_promoted`, into ``Home.promoted_dir``): the source, a manifest (sha256, stage, data
range, trial ids, weakened gate thresholds) and the gate report. Nothing here trades."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rara.domain.gate import GateReport
from rara.domain.market import Candles, Instrument, ms_to_iso
from rara.domain.strategy import source_sha256
from rara.registry import Manifest, Registry
from rara.research.models import Candidate
from rara_sandbox.manifest import STRATEGY_FILE

STAGE = "paper_candidate"


def write_paper_candidate(
    registry: Registry,
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
    name = str(meta["name"])
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
        "weakened": [w.model_dump() for w in report.weakened],
    }
    return registry.add_promoted(  # same name, different code: the registry keeps both
        Manifest.model_validate(manifest),
        cand.source,
        {"gate_report.json": json.dumps(report.model_dump(mode="json"), indent=2)},
    )
