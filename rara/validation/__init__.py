"""Honest validation: deflated Sharpe ratios, overfitting probability, time-ordered splits, and
the research gate that judges a candidate with them.

Modules (import them directly; nothing heavy is imported here):

- `rara.validation.statistics`: Sharpe helpers, PSR, expected maximum Sharpe, DSR, MinTRL, MinBTL.
- `rara.validation.pbo`: probability of backtest overfitting by CSCV.
- `rara.validation.splits`: train / validation / holdout splits and walk-forward windows.
- `rara.validation.lookahead`: the cheap look-ahead probes (seeded) and checks on one evaluation.
- `rara.validation.causality`: the exhaustive causality proof's model, port and checks.
- `rara.validation.candidate`: a candidate's evaluation read once (meta, identity, look-ahead).
- `rara.validation.trials`: every backtest recorded as a trial.
- `rara.validation.effective_trials`: the DSR's N, effectively independent trials by clustering.
- `rara.validation.holdout`: holdout reads keyed by the signals' fingerprint, and their budget.
- `rara.validation.checks`: the gate's checks, one function each.
- `rara.validation.gate`: gate 1 (research -> paper), a pure judge: it never runs strategy code.
"""

__all__ = [
    "candidate",
    "causality",
    "checks",
    "effective_trials",
    "gate",
    "holdout",
    "lookahead",
    "pbo",
    "splits",
    "statistics",
    "trials",
]
