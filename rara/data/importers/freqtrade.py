"""freqtrade data: its file names (pair, timeframe, candle type), its folders, its JSON files.

freqtrade names a data file ``<pair>-<timeframe>[-<candle type>].<ext>`` inside a folder named
after the exchange (futures one level down, in ``<exchange>/futures``). ``.feather`` files are Arrow
tables read like any other; ``.json`` / ``.json.gz`` files are lists of
``[ts_ms, open, high, low, close, volume]``.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa

from rara.data.importers.tabular import OHLCV
from rara.domain.market import Timeframe, normalize_symbol
from rara.errors import BadInput

FEATHER_EXTS = (".feather", ".arrow", ".ipc")
JSON_EXTS = (".json", ".json.gz")

# freqtrade: <pair with _ for / and :>-<timeframe>[-<candle type>].<ext>; see its IDataHandler.
FREQTRADE_NAME = re.compile(
    r"^(?P<pair>[A-Za-z0-9]+(?:_[A-Za-z0-9]+){1,2})-(?P<tf>\d+(?:Mo|[smhdwMy]))"
    r"(?:-(?P<ctype>[A-Za-z_]+))?\.(?P<ext>feather|json|json\.gz|parquet|h5)$"
)
# Candle types freqtrade stores beside real trade candles; they are not OHLCV of trades.
NON_TRADE_CANDLES = {"mark", "index", "premiumindex", "funding_rate"}


def _read_json(path: Path, ext: str, what: str) -> pa.Table:
    opener = gzip.open if ext == ".json.gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        try:
            data = json.load(fh)
        except json.JSONDecodeError as exc:
            raise BadInput(
                "unreadable_file",
                f"{what} is not valid JSON: {exc}",
                "check that the file is complete",
            ) from exc
    if not isinstance(data, list):
        raise BadInput(
            "unreadable_file",
            f"{what}: expected a JSON list of candles",
            "freqtrade .json data is a list of [ts_ms, open, high, low, close, volume]",
        )
    if not data:
        raise BadInput("empty_file", f"{what} holds no candles", "nothing to import")
    if all(isinstance(r, dict) for r in data):
        return pa.Table.from_pylist(data)
    cols: list[list[Any]] = [[] for _ in range(6)]
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) < 6:
            raise BadInput(
                "bad_row",
                f"{what}: row {i} is {json.dumps(row)[:80]}, "
                "not [ts, open, high, low, close, volume]",
                "freqtrade .json data is a list of [ts_ms, open, high, low, close, volume]",
            )
        for j in range(6):
            cols[j].append(row[j])
    try:
        arrays = [pa.array(cols[0])] + [pa.array(c, type=pa.float64()) for c in cols[1:]]
    except (pa.ArrowException, TypeError) as exc:
        raise BadInput(
            "bad_number",
            f"{what}: a value is not a number ({exc})",
            "repair the file, or re-download it with freqtrade",
        ) from exc
    return pa.Table.from_arrays(arrays, names=["ts", *OHLCV])


# ---- names and folders -----------------------------------------------------------------------


def _freqtrade_name(path: Path) -> tuple[str, Timeframe] | str:
    """(symbol, timeframe) from a freqtrade file name, or the reason it is not importable."""
    m = FREQTRADE_NAME.match(path.name)
    if not m:
        return "not a freqtrade candle file name (like BTC_USDT-1h.feather)"
    ctype = (m.group("ctype") or "spot").lower()
    if ctype in NON_TRADE_CANDLES:
        return f"not candles of trades ({m.group('ctype')} candles)"
    if ctype not in ("spot", "futures"):
        return f"unknown freqtrade candle type {m.group('ctype')!r}"
    if m.group("ext") == "h5":
        return "HDF5 freqtrade data is not supported; convert it with `freqtrade convert-data`"
    parts = m.group("pair").upper().split("_")
    pair = f"{parts[0]}/{parts[1]}" + (f":{parts[2]}" if len(parts) == 3 else "")
    try:
        sym = normalize_symbol(pair)
        tf = Timeframe.parse(m.group("tf"))
    except ValueError as exc:
        return f"cannot be stored: {str(exc).splitlines()[-1].strip()}"
    return sym, tf


def _exchange_from_folder(path: Path) -> str:
    parent = path.parent
    if parent.name.lower() == "futures":  # freqtrade keeps futures under <exchange>/futures/
        parent = parent.parent
    return parent.name.lower()


def _valid_exchange(name: str) -> bool:
    return re.fullmatch(r"[a-z0-9_]{2,40}", name) is not None
