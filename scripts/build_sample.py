"""Rebuild the embedded sample catalog (rara/data/sample) from a folder of sample Parquet files.

Usage: python scripts/build_sample.py SOURCE_DIR (the candle files the maintainers collected).

Run once by a maintainer; the output is committed. Keeps the package lean: every 1h and 1d file
(ten symbols) and BTC/USDT 5m (for resampling demos and tests), about 4 MB in all.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pyarrow.parquet as pq

from rara.data.catalog import Catalog, table_to_candles
from rara.data.quality import check_candles
from rara.domain.market import Instrument, Timeframe

DEST = Path(__file__).resolve().parents[1] / "rara" / "data" / "sample"
KEEP_5M = {"BTC-USDT"}


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/build_sample.py SOURCE_DIR")
    src = Path(sys.argv[1])
    for d in DEST.iterdir() if DEST.exists() else []:
        if d.is_dir():
            shutil.rmtree(d)
    cat = Catalog(DEST, embedded=None)
    for f in sorted(src.glob("*.parquet")):
        sym, tf = f.stem.rsplit("_", 1)
        if tf == "5m" and sym not in KEEP_5M:
            continue
        table = pq.read_table(f)
        origin = json.loads(table.schema.metadata[b"ohlcv_meta"])
        inst = Instrument(exchange="binance", symbol=sym, timeframe=Timeframe.parse(tf))
        candles = table_to_candles(table.select(["ts", "open", "high", "low", "close", "volume"]))
        check_candles(candles, inst.timeframe, f.name)
        keys = ("source_repo", "source_commit", "source_license")
        repo, commit, licence = (origin[k] for k in keys)
        source = f"sample:binance-spot via {repo}@{commit[:12]} ({licence})"
        res = cat.write(inst, candles, source=source)
        print(f"{inst.key}: {len(candles)} rows -> {len(res.periods)} period files")
    shutil.copy(src / "README.md", DEST / "README.md")


if __name__ == "__main__":
    main()
