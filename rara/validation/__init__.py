"""Honest validation: deflated Sharpe ratios, overfitting probability, time-ordered splits, and
the research gate that judges a candidate with them.

Modules (import them directly; nothing heavy is imported here):

- `rara.validation.statistics`: Sharpe helpers, PSR, expected maximum Sharpe, DSR, MinTRL, MinBTL.
- `rara.validation.pbo`: probability of backtest overfitting by CSCV.
- `rara.validation.splits`: train / validation / holdout splits and walk-forward windows.
- `rara.validation.lookahead`: the look-ahead plan and checks on one sandbox evaluation.
- `rara.validation.candidate`: a candidate's evaluation read once (meta, identity, look-ahead).
- `rara.validation.trials`: every backtest recorded as a trial.
- `rara.validation.checks`: the gate's checks, one function each.
- `rara.validation.gate`: gate 1 (research -> paper), a pure judge: it never runs strategy code.
"""

__all__ = ["candidate", "checks", "gate", "lookahead", "pbo", "splits", "statistics", "trials"]
