"""The research loop: propose -> code -> check -> sandbox -> backtest -> gate -> learn."""
