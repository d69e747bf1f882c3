"""Trial keys for tests of what stores a trial (the event log's seals, the batched writes): the
i-th distinct validation trial of a strategy on BTC/USDT 1h bars."""

from __future__ import annotations

from rara.validation.trials import TrialKey


def validation_key(i: int, bars: int) -> TrialKey:
    """Trial i (its own source hash and params) over the first `bars` hourly bars."""
    return TrialKey(
        source_sha256=f"{i:064x}",
        params={"fast": i},
        exchange="binance",
        symbol="BTC/USDT",
        timeframe="1h",
        segment="validation",
        start_ms=0,
        end_ms=3_600_000 * bars,
        fee=0.001,
        slippage=0.0005,
    )
