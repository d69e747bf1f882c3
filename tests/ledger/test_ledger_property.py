"""Random fill sequences (buys and sells of random sizes, prices and fees made from float reprs,
never selling more than held): every transaction balances, the trial balance is zero, balances
equal a plain running total, and realized PnL equals a reference computed another way, all in
exact rational arithmetic (`Fraction`), independent of the ledger's decimal context."""

from __future__ import annotations

import sqlite3
import tempfile
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rara.ledger import EXACT, open_ledger
from tests.ledger.books import ACCOUNT, SYMBOL, fill, funding

# (side, size, price, fee, fee currency); a sell's size is a fraction of what is held
Step = tuple[str, float, float, float, str]


def exact_repr(x: float) -> Decimal:
    """The float's shortest repr as a decimal, as a venue adapter makes one (up to 17 digits)."""
    return Decimal(repr(x))


steps = st.lists(
    st.tuples(
        st.sampled_from(["buy", "buy", "sell"]),
        st.floats(min_value=1e-6, max_value=3.0),
        st.floats(min_value=0.01, max_value=1e6),
        st.one_of(st.just(0.0), st.floats(min_value=1e-9, max_value=50.0)),
        st.sampled_from(["USDT", "USDT", "BTC", "BNB"]),
    ),
    min_size=1,
    max_size=25,
)


class Reference:
    """Holdings as a plain running total, and FIFO realized PnL computed from what is left: with
    no short lots, FIFO leaves the newest units bought, so realized PnL is the quote every trade
    brought in or paid out (quote fees included) plus what those newest units cost. A base fee
    costs the units it takes (they leave the lots); a fee in BNB is not in quote PnL."""

    def __init__(self) -> None:
        self.held: dict[str, Fraction] = {"USDT": Fraction(10**7), "BNB": Fraction(100)}
        self.flows = Fraction(0)
        self.buys: list[tuple[Fraction, Fraction]] = []

    def fill(self, side: str, q: Fraction, p: Fraction, fee: Fraction, ccy: str) -> None:
        sign = 1 if side == "buy" else -1
        self.held["BTC"] = self.held.get("BTC", Fraction(0)) + sign * q
        self.held["USDT"] -= sign * q * p
        self.held[ccy] = self.held.get(ccy, Fraction(0)) - fee
        self.flows -= sign * q * p + (fee if ccy == "USDT" else 0)
        if side == "buy":
            self.buys.append((q, p))

    def open_cost(self) -> Fraction:
        left, cost = self.held.get("BTC", Fraction(0)), Fraction(0)
        for q, p in reversed(self.buys):
            take = min(q, left)
            cost += take * p
            left -= take
        assert left == 0
        return cost

    def realized(self) -> Fraction:
        return self.flows + self.open_cost()


def as_decimal(x: Fraction) -> Decimal:
    """A sum of decimals as the decimal it is (exact: its denominator divides a power of ten)."""
    return EXACT.divide(Decimal(x.numerator), Decimal(x.denominator))


def sell_size(ref: Reference, size: float, fee: Decimal, ccy: str) -> Decimal | None:
    """Part of what is held (size / 3 of it), or all of it (size above 2); None when nothing
    can be sold."""
    room = ref.held.get("BTC", Fraction(0)) - (Fraction(fee) if ccy == "BTC" else 0)
    if room <= 0:
        return None
    if size > 2:
        return as_decimal(room)
    q = exact_repr(float(room) * size / 3)
    return q if 0 < Fraction(q) <= room else None


def per_transaction_sums(db: Path) -> dict[tuple[int, str], Fraction]:
    """Each transaction's postings summed per currency, read with plain sqlite3."""
    conn = sqlite3.connect(db)
    try:
        sums: dict[tuple[int, str], Fraction] = {}
        for seq, ccy, amount in conn.execute(
            "SELECT tx_seq, currency, amount FROM ledger_postings"
        ):
            sums[(seq, ccy)] = sums.get((seq, ccy), Fraction(0)) + Fraction(amount)
        return sums
    finally:
        conn.close()


@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(steps=steps)
def test_random_fills_keep_the_books_exact(steps: list[Step]) -> None:
    ref = Reference()
    booked = []
    with tempfile.TemporaryDirectory() as tmp, open_ledger(Path(tmp) / "rara.db") as ledger:
        ledger.book_funding(funding("10000000"))
        ledger.book_funding(funding("100", "BNB", tx_id="fund:bnb"))
        for i, (side, size, price, fee, ccy) in enumerate(steps):
            p, f = exact_repr(price), exact_repr(fee)
            q = sell_size(ref, size, f, ccy) if side == "sell" else exact_repr(size)
            if q is None or (ccy == "BTC" and f >= q):  # no venue takes a fee above the fill
                continue
            booked.append(fill(f"f{i}", side, q, p, f, ccy))  # type: ignore[arg-type]
            assert ledger.book_fill(booked[-1])
            ref.fill(side, Fraction(q), Fraction(p), Fraction(f), ccy)
            assert ref.held["BTC"] >= 0
        assert all(v == 0 for v in per_transaction_sums(ledger.path).values())
        balances = {c: Fraction(v) for c, v in ledger.balances(ACCOUNT).items()}
        assert balances == {c: v for c, v in ref.held.items() if v}
        pos = ledger.position(ACCOUNT, SYMBOL)
        assert Fraction(pos.quantity) == ref.held.get("BTC", 0)
        assert Fraction(pos.entry_cost) == ref.open_cost()
        assert Fraction(pos.realized_pnl) == ref.realized()
        report = ledger.verify({ACCOUNT: ledger.balances(ACCOUNT)})
        assert report.ok, report.reason
        assert all(v == 0 for v in report.trial_balance.values())
        # replayed, every fill books nothing
        last = ledger.last_seq()
        assert not any(ledger.book_fill(f) for f in booked)
        assert ledger.last_seq() == last
