"""Candles as content: one byte encoding and its sha256, the identity a remote worker checks.

The encoding is the six columns in `Candles.COLUMNS` order, little-endian (ts int64, the rest
float64), after an 8-byte bar count: the same candles give the same bytes on every machine, so the
hash names the data wherever it is stored or shipped.
"""

from __future__ import annotations

import hashlib
import struct

import numpy as np

from rara.domain.market import Candles
from rara.errors import Refused

_COUNT = struct.Struct("<q")
_DTYPES = {"ts": "<i8", "open": "<f8", "high": "<f8", "low": "<f8", "close": "<f8", "volume": "<f8"}


def candles_bytes(candles: Candles) -> bytes:
    parts = [_COUNT.pack(len(candles))]
    for col in Candles.COLUMNS:
        parts.append(np.ascontiguousarray(getattr(candles, col), dtype=_DTYPES[col]).tobytes())
    return b"".join(parts)


def bytes_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def candles_sha256(candles: Candles) -> str:
    """The content hash of `candles` (the sha256 of `candles_bytes`)."""
    return bytes_sha256(candles_bytes(candles))


def candles_from_bytes(data: bytes, expected_sha256: str) -> Candles:
    """Candles from their encoding, refused unless the bytes hash to `expected_sha256`."""
    actual = bytes_sha256(data)
    if actual != expected_sha256:
        raise Refused(
            "data_hash_mismatch",
            f"candle data hashes to {actual[:16]}, the job names {expected_sha256[:16]}",
            "the shared data path holds other candles than the run's: re-export them, or let "
            "the scheduler ship the data",
        )
    if len(data) < _COUNT.size:
        raise Refused("bad_candle_data", "candle data is shorter than its header")
    (n,) = _COUNT.unpack_from(data)
    if n < 0 or len(data) != _COUNT.size + 48 * n:
        raise Refused("bad_candle_data", f"candle data of {len(data)} bytes is not {n} bars")
    cols = []
    offset = _COUNT.size
    for col in Candles.COLUMNS:
        arr = np.frombuffer(data, dtype=_DTYPES[col], count=n, offset=offset)
        cols.append(arr.astype(arr.dtype.newbyteorder("=")))  # a native, writable copy
        offset += 8 * n
    return Candles(*cols)
