"""Honest validation: deflated Sharpe ratios, overfitting probability and time-ordered splits.

Modules (import them directly; nothing heavy is imported here):

- `rara.validation.statistics`: Sharpe helpers, PSR, expected maximum Sharpe, DSR, MinTRL, MinBTL.
- `rara.validation.pbo`: probability of backtest overfitting by CSCV.
- `rara.validation.splits`: train / validation / holdout splits and walk-forward windows.
"""
