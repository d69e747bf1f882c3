"""What a run did, after the fact: its content hash (`rara.events.digest.run_hash`) and how well
its proposer forecast. Calibration scores forecasts against known outcomes: the Brier score of
"passes the gate" and the error of the validation Sharpe forecast.
"""

from __future__ import annotations

from typing import Any

from rara.events.digest import run_hash
from rara.research.store import Experiment


def calibration(experiments: list[Experiment]) -> dict[str, Any]:
    """Brier score of pass forecasts and mean absolute error of Sharpe forecasts, over the
    experiments that carry a forecast and reached the point where its outcome is known."""
    pass_pairs = [
        (e.forecast.pass_probability, 1.0 if e.outcome == "paper_candidate" else 0.0)
        for e in experiments
        if e.forecast.pass_probability is not None and e.outcome != "duplicate"
    ]
    sharpe_pairs = [
        (e.forecast.validation_sharpe, e.validation_sharpe)
        for e in experiments
        if e.forecast.validation_sharpe is not None and e.validation_sharpe is not None
    ]
    base_rate = (sum(o for _, o in pass_pairs) / len(pass_pairs)) if pass_pairs else None
    return {
        "pass_forecasts": len(pass_pairs),
        "brier": (sum((p - o) ** 2 for p, o in pass_pairs) / len(pass_pairs))
        if pass_pairs
        else None,
        # what always forecasting the observed pass rate would score: the bar to beat
        "brier_of_base_rate": (base_rate * (1 - base_rate)) if base_rate is not None else None,
        "sharpe_forecasts": len(sharpe_pairs),
        "sharpe_mae": (sum(abs(f - a) for f, a in sharpe_pairs) / len(sharpe_pairs))
        if sharpe_pairs
        else None,
        "sharpe_bias": (sum(f - a for f, a in sharpe_pairs) / len(sharpe_pairs))
        if sharpe_pairs
        else None,
    }


__all__ = ["calibration", "run_hash"]
