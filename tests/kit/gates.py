"""A research gate opened wide, for tests that need a candidate to get past the floor and the
honest checks to what they test (the causality proof, the holdout, the DSR): one definition of
"opened" instead of a copy per test file."""

from __future__ import annotations

from typing import Any

from rara.config import ResearchGateSettings

# Every check before the holdout that a real candidate on the sample could fail, opened. A
# track-record confidence of 0.5 makes the minimum track record one bar for any positive Sharpe.
OPENED: dict[str, Any] = {
    "min_sharpe": -100.0,
    "max_drawdown": 1.0,
    "min_trades": 0,
    "min_track_record_confidence": 0.5,
    "min_dsr": 0.0,
    "max_pbo": 1.0,
    "cost_multiplier": 1.0,
}


def opened_gate(*keep: str, **overrides: Any) -> ResearchGateSettings:
    """The gate with the `OPENED` checks opened, except those named in `keep` (left at their
    defaults); `overrides` set anything else (e.g. ``min_holdout_psr=0`` to open the holdout)."""
    unknown = set(keep) - set(OPENED)
    assert not unknown, f"not an opened check: {sorted(unknown)}"
    return ResearchGateSettings(**{k: v for k, v in OPENED.items() if k not in keep}, **overrides)
