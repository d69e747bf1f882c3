"""Click parameter types: user input is parsed once, here at the edge, into domain values.

Each type turns its text into what the inner layers take (a ccxt symbol, a `Timeframe`, epoch
milliseconds, a checked fraction) or raises `BadInput` with one stable code per kind of mistake,
a message naming the flag and the value, and a suggestion. Commands never see the raw string.

``KINDS`` maps each type to the kind of value it checks; the CLI test walks the command tree and
feeds every option of these kinds a bad value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import annotated_types
import click
from pydantic import BaseModel

from rara.config import BacktestSettings
from rara.domain.market import (
    Timeframe,
    ms_to_iso,
    normalize_exchange,
    normalize_symbol,
    parse_utc,
)
from rara.errors import BadInput

T = TypeVar("T")


class EdgeType(click.ParamType[T]):
    """A parameter type whose mistakes are `BadInput` (exit 2, JSON), not click usage text."""

    kind = ""  # symbol, timeframe, date, exchange, fee, slippage, fraction
    code = "bad_input"
    suggestion = ""

    def parse(self, text: str) -> T:
        raise NotImplementedError

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> T:
        if not isinstance(value, str):  # a default given already typed, or a second pass
            return cast(T, value)
        try:
            return self.parse(value)
        except ValueError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else "is not valid"
            raise BadInput(
                self.code, f"{flag_of(param)} {value!r} {reason}", self.suggestion
            ) from None


def flag_of(param: click.Parameter | None) -> str:
    """How the user spelled the parameter: ``--start``, or ``SYMBOL`` for an argument."""
    if param is None:
        return "value"
    if isinstance(param, click.Option):
        return max(param.opts, key=len)
    return param.human_readable_name


class DomainValueType(EdgeType[T]):
    """Text turned into a domain value by the domain's own parser; whatever that parser refuses
    is reported with one sentence of what the value should look like."""

    def __init__(
        self,
        name: str,
        kind: str,
        to_value: Callable[[str], T],
        problem: str,
        suggestion: str,
        code: str | None = None,
    ) -> None:
        self.name, self.kind, self.code = name, kind, code or f"bad_{kind}"
        self.to_value, self.problem, self.suggestion = to_value, problem, suggestion

    def parse(self, text: str) -> T:
        try:
            return self.to_value(text)
        except ValueError:
            raise ValueError(self.problem) from None


class FractionType(EdgeType[float]):
    """A float within the bounds a setting declares (read from its pydantic field, so the
    range is written once, in `rara.config`)."""

    name = "fraction"

    def __init__(self, kind: str, model: type[BaseModel], field: str, example: str) -> None:
        self.kind = kind
        self.code = f"bad_{kind}"
        self.lo, self.lo_open, self.hi, self.hi_open = _bounds(model, field)
        lo = f"{'above' if self.lo_open else 'at least'} {self.lo:g}"
        hi = f"{'below' if self.hi_open else 'at most'} {self.hi:g}"
        self.range_text = f"{lo} and {hi}"
        self.suggestion = f"give a fraction {self.range_text}, e.g. {example}"

    def parse(self, text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError("is not a number") from None
        below = value <= self.lo if self.lo_open else value < self.lo
        above = value >= self.hi if self.hi_open else value > self.hi
        if below or above or value != value:  # NaN compares false everywhere
            raise ValueError(f"must be {self.range_text}")
        return value


def _bounds(model: type[BaseModel], field: str) -> tuple[float, bool, float, bool]:
    lo, lo_open, hi, hi_open = float("-inf"), False, float("inf"), False
    for m in model.model_fields[field].metadata:
        if isinstance(m, annotated_types.Ge):
            lo, lo_open = float(m.ge), False  # type: ignore[arg-type]
        elif isinstance(m, annotated_types.Gt):
            lo, lo_open = float(m.gt), True  # type: ignore[arg-type]
        elif isinstance(m, annotated_types.Le):
            hi, hi_open = float(m.le), False  # type: ignore[arg-type]
        elif isinstance(m, annotated_types.Lt):
            hi, hi_open = float(m.lt), True  # type: ignore[arg-type]
    return lo, lo_open, hi, hi_open


# ``BTC/USDT``, ``btc-usdt`` or ``BTC_USDT`` -> the ccxt unified form ``BTC/USDT``.
SYMBOL = DomainValueType(
    "symbol",
    "symbol",
    normalize_symbol,
    "is not a symbol like BTC/USDT (BASE/QUOTE[:SETTLE])",
    "symbols are BASE/QUOTE (or BASE/QUOTE:SETTLE for derivatives), e.g. BTC/USDT or BTC-USDT",
)
# ``1h`` -> `Timeframe`.
TIMEFRAME = DomainValueType(
    "timeframe",
    "timeframe",
    Timeframe.parse,
    "is not a bar length like 1m, 1h or 1d",
    "a whole number of m, h, d or w: 1m, 5m, 15m, 1h, 4h, 1d or 1w",
)
# An ISO 8601 date or datetime, UTC when it has no zone -> epoch milliseconds.
UTC_TIME = DomainValueType(
    "utc_time",
    "date",
    parse_utc,
    "is not an ISO 8601 date or datetime",
    "use an ISO date or time in UTC, e.g. 2024-01-31, 2024-01-31T12:00 or ...Z",
)
# A ccxt exchange id, lowercased: ``Binance`` -> ``binance``.
EXCHANGE = DomainValueType(
    "exchange",
    "exchange",
    normalize_exchange,
    "is not an exchange id (2-40 lowercase letters, digits or _)",
    "exchange ids are ccxt ids such as binance, kraken or okx",
)
FEE = FractionType("fee", BacktestSettings, "fee", "0.001")
SLIPPAGE = FractionType("slippage", BacktestSettings, "slippage", "0.0005")

KINDS = ("symbol", "timeframe", "date", "exchange", "fee", "slippage", "fraction")


def check_range(start_ms: int | None, end_ms: int | None, end_flag: str = "--end") -> None:
    """A start given with an end must come first."""
    if start_ms is not None and end_ms is not None and start_ms >= end_ms:
        raise BadInput(
            "bad_range",
            f"start {ms_to_iso(start_ms)} is not before end {ms_to_iso(end_ms)}",
            f"swap them, or move {end_flag} later",
        )
