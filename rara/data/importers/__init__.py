"""Candles from files: CSV, Parquet, and freqtrade data folders (``.feather``, ``.json``).

Importing is two phases so a bad file never leaves a half import behind:

1. `plan_import` reads and validates every file (columns, timestamps, grid, OHLC sanity through
   `rara.data.quality.check_candles`) and decides the instrument of each. Any problem raises
   `BadInput` naming the file and row, and nothing has been written.
2. `apply_import` writes the validated candles through `Catalog.write`, one instrument at a time.

Where the instrument comes from:

* a freqtrade folder (``user_data/data/binance``): symbol and timeframe from each file name
  (``BTC_USDT-1h.feather``, futures ``BTC_USDT_USDT-1h-futures.feather`` -> ``BTC/USDT:USDT``),
  exchange from the folder name (a ``futures`` folder counts as its parent). A given symbol and
  timeframe then act as filters, a given exchange overrides.
* a single freqtrade file: the same, from its name and its folder; given parts override.
* a CSV or Parquet file: the given symbol and timeframe, or the Parquet file's own ``rara``
  (catalog) or ``ohlcv_meta`` (shared samples) metadata. Without a timeframe it is inferred from the
  median step between rows, and the report says so.
"""

from rara.data.importers.apply import apply_import, compare_stored, import_path
from rara.data.importers.freqtrade import FEATHER_EXTS, FREQTRADE_NAME, JSON_EXTS, NON_TRADE_CANDLES
from rara.data.importers.plan import (
    KNOWN_EXTS,
    ImportItem,
    ImportPlan,
    PartRequired,
    Skipped,
    plan_import,
)
from rara.data.importers.tabular import CSV_EXTS, OHLCV, PARQUET_EXTS, TIME_COLUMNS

__all__ = [
    "CSV_EXTS",
    "FEATHER_EXTS",
    "FREQTRADE_NAME",
    "JSON_EXTS",
    "KNOWN_EXTS",
    "NON_TRADE_CANDLES",
    "OHLCV",
    "PARQUET_EXTS",
    "TIME_COLUMNS",
    "ImportItem",
    "ImportPlan",
    "PartRequired",
    "Skipped",
    "apply_import",
    "compare_stored",
    "import_path",
    "plan_import",
]
