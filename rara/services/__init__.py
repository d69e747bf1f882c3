"""Application services: what the CLI, the daemon and the gRPC server call, so a command only
parses its input and prints the result.

- `rara.services.backtest`: backtest or gate one strategy on stored candles.
"""
