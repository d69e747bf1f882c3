"""The strategies a home can see: promoted by its research, installed from elsewhere, shipped
with rara (promoted by the gate, with its report, or examples); each a directory with
``strategy.py`` and a typed `Manifest`.

Typical use::

    registry = Registry(Home.from_env())
    listing = registry.listing()                     # Listing(strategies=..., problems=...)
    for entry in listing.strategies:
        entry.name, entry.origin, entry.manifest.sha256, entry.source_path
    source = registry.locate("sma_crossover")        # <root>/sma_crossover/strategy.py or None
    registry.get("sma_crossover").origin             # "example": shipped, never promoted
    path = registry.add_promoted(manifest, source_text, {"gate_report.json": report_json})

A malformed manifest is a `ManifestError` (a `RaraError` naming the file and the field) when
read directly, and a `ManifestProblem` in a listing, which still lists everything else.
"""

from rara.registry.manifest import Manifest, ManifestError, read_manifest
from rara.registry.registry import (
    EXAMPLES_ROOT,
    GATE_REPORT_FILE,
    ORIGINS,
    SHIPPED_ROOT,
    Listing,
    ManifestProblem,
    Origin,
    Registry,
    StrategyEntry,
)

__all__ = [
    "EXAMPLES_ROOT",
    "GATE_REPORT_FILE",
    "ORIGINS",
    "SHIPPED_ROOT",
    "Listing",
    "Manifest",
    "ManifestError",
    "ManifestProblem",
    "Origin",
    "Registry",
    "StrategyEntry",
    "read_manifest",
]
