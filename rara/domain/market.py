"""Market-data vocabulary: instruments, timeframes and candle arrays.

numpy is imported where candles are built, not with the module: settings, the CLI's parameter
types and every other user of the vocabulary import this module without it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, field_validator

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    F64 = npt.NDArray[np.float64]
    I64 = npt.NDArray[np.int64]

MS_PER_UNIT = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
# ASCII digits, no leading zero, \Z not $ (which matches before a final newline): one spelling
# per bar length, so one instrument key and one catalog path.
_TIMEFRAME_RE = re.compile(r"^([1-9][0-9]*)([mhdw])\Z")
# ccxt unified symbols: BASE/QUOTE, optionally :SETTLE for derivatives.
_SYMBOL_RE = re.compile(r"^([A-Z0-9]{1,20})/([A-Z0-9]{1,20})(?::([A-Z0-9]{1,20}))?\Z")
_EXCHANGE_RE = re.compile(r"^[a-z0-9_]{2,40}\Z")


class Timeframe(BaseModel):
    """A bar length such as ``1m``, ``4h`` or ``1d``; months are not supported (uneven)."""

    model_config = ConfigDict(frozen=True)
    value: str

    @field_validator("value")
    @classmethod
    def _check(cls, v: str) -> str:
        m = _TIMEFRAME_RE.match(v)
        if not m or int(m.group(1)) == 0:
            raise ValueError(f"timeframe {v!r} is not like 1m, 5m, 1h, 4h, 1d or 1w")
        return v

    @classmethod
    def parse(cls, text: str) -> Timeframe:
        return cls(value=text.strip())

    @property
    def ms(self) -> int:
        m = _TIMEFRAME_RE.match(self.value)
        assert m is not None
        return int(m.group(1)) * MS_PER_UNIT[m.group(2)]

    @property
    def bars_per_day(self) -> float:
        return 86_400_000 / self.ms

    @property
    def period_kind(self) -> str:
        """How the catalog partitions this timeframe: a file per month below 1h, else per year."""
        return "month" if self.ms < 3_600_000 else "year"

    def __str__(self) -> str:
        return self.value


class Instrument(BaseModel):
    """One market on one venue: exchange id (ccxt), unified symbol and timeframe."""

    model_config = ConfigDict(frozen=True)
    exchange: str
    symbol: str
    timeframe: Timeframe

    @field_validator("exchange")
    @classmethod
    def _check_exchange(cls, v: str) -> str:
        if not _EXCHANGE_RE.match(v):
            raise ValueError(f"exchange id {v!r} must be lowercase letters, digits or _")
        return v

    @field_validator("symbol")
    @classmethod
    def _check_symbol(cls, v: str) -> str:
        return normalize_symbol(v)

    @property
    def symbol_path(self) -> str:
        """The symbol as a path segment: ``BTC/USDT`` -> ``BTC-USDT``, ``:`` -> ``_``."""
        return self.symbol.replace("/", "-").replace(":", "_")

    @property
    def key(self) -> str:
        return f"{self.exchange}:{self.symbol}:{self.timeframe}"


def normalize_symbol(text: str) -> str:
    """Accept ``btc/usdt``, ``BTC-USDT`` or ``BTC_USDT``; return the ccxt form ``BTC/USDT``."""
    s = text.strip().upper()
    if "/" not in s:
        head, sep, settle = s.partition(":")
        for delim in ("-", "_"):
            if head.count(delim) == 1:
                head = head.replace(delim, "/")
                break
        s = head + (sep + settle if sep else "")
    if not _SYMBOL_RE.match(s):
        raise ValueError(f"symbol {text!r} is not like BTC/USDT (BASE/QUOTE[:SETTLE])")
    return s


def normalize_exchange(text: str) -> str:
    """An exchange id as ccxt spells it: ``Binance `` -> ``binance``."""
    s = text.strip().lower()
    if not _EXCHANGE_RE.match(s):
        raise ValueError(f"exchange id {text!r} is not 2-40 lowercase letters, digits or _")
    return s


def symbol_from_path(segment: str) -> str:
    """Inverse of `Instrument.symbol_path`."""
    head, _, settle = segment.partition("_")
    return head.replace("-", "/") + (f":{settle}" if settle else "")


def ms_to_iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc_datetime(text: str) -> datetime:
    """The one parser of user-given times: an ISO 8601 date or datetime, taken as UTC when it
    has no zone (``Z`` or ``z`` means UTC). Raises ValueError saying what is wrong."""
    t = text.strip()
    if t.endswith(("Z", "z")):
        t = t[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(t)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date or datetime") from None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def parse_utc(text: str) -> int:
    """A date or datetime (taken as UTC when it has no zone) to epoch milliseconds."""
    return int(parse_utc_datetime(text).timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class Candles:
    """Columnar OHLCV for the hot path. ``ts`` is the bar's open time in epoch ms (UTC)."""

    ts: I64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64

    COLUMNS = ("ts", "open", "high", "low", "close", "volume")

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def slice(self, start: int, stop: int) -> Candles:
        return Candles(*(getattr(self, c)[start:stop] for c in self.COLUMNS))

    @classmethod
    def empty(cls) -> Candles:
        import numpy as np

        f = np.empty(0, dtype=np.float64)
        return cls(np.empty(0, dtype=np.int64), f, f, f, f, f)
