"""Exact money arithmetic: one decimal context for every amount that is booked, journaled or
compared with a venue, so nothing anywhere rounds silently.

A fill's quantity and price come from floats (a market's prices, the backtest's fill rules) as
the decimals their shortest repr spells (`from_float`: ``float(from_float(x)) == x``), up to ~17
significant digits each; a product of two needs ~34 and Decimal's default context keeps 28. Inside
``with exact():`` arithmetic keeps 200 digits and any rounding (``Inexact``) raises instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import (
    ROUND_HALF_EVEN,
    Clamped,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    Subnormal,
    Underflow,
    localcontext,
)

EXACT_DIGITS = 200
EXACT = Context(
    prec=EXACT_DIGITS,
    rounding=ROUND_HALF_EVEN,
    Emax=999_999,
    Emin=-999_999,
    traps=[Inexact, InvalidOperation, DivisionByZero, Overflow, Underflow, Subnormal, Clamped],
)
ZERO = Decimal(0)


@contextmanager
def exact() -> Iterator[Context]:
    """Arithmetic on money: `EXACT` for the duration (rounding raises ``decimal.Inexact``)."""
    with localcontext(EXACT) as ctx:
        yield ctx


def from_float(x: float) -> Decimal:
    """The float as the decimal its shortest repr spells (``float(from_float(x)) == x``)."""
    return Decimal(repr(x))


WIDE = Context(prec=EXACT_DIGITS, rounding=ROUND_HALF_EVEN, Emax=999_999, Emin=-999_999)


@contextmanager
def wide() -> Iterator[Context]:
    """Comparisons of money, ratios included (a drawdown is a division): sums and products are
    exact at 200 digits, a quotient is rounded there. What is compared is never rounded to
    Decimal's default 28 digits first, so dust never decides a limit."""
    with localcontext(WIDE) as ctx:
        yield ctx
