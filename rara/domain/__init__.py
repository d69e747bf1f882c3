"""Pure domain types: no I/O, nothing of rara imported."""

from rara.domain.market import Candles, Instrument, Timeframe

__all__ = ["Candles", "Instrument", "Timeframe"]
