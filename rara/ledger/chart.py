"""The chart of accounts, and the transactions a fill and a funding book: pure functions.

Ledger accounts of a trading account ``A`` (e.g. ``paper:<run id>``), each holding any number of
currencies (every posting names its currency; debits positive, credits negative)::

    A:holdings            asset   what A holds at its venue, per currency: cash (USDT) and
                                  positions (BTC) alike; `Ledger.balances(A)` is this account
    A:conversion:BASE/QUOTE       the two legs of every trade in one market meet here: a buy
                                  credits it the base received and debits it the quote paid, so
                                  each currency balances on its own; its quote balance over a
                                  closed round trip is the trade's gross PnL (negated)
    A:fees                expense fees paid, per currency
    A:capital             equity  money put in (negative: contributed) or taken out

A buy of q BASE at p QUOTE with fee f in F (a sell flips the first four signs)::

    A:holdings               BASE  +q
    A:conversion:BASE/QUOTE  BASE  -q
    A:conversion:BASE/QUOTE  QUOTE +q*p
    A:holdings               QUOTE -q*p
    A:fees                   F     +f      (only when f is not zero)
    A:holdings               F     -f

A funding of amount x in C (negative: a withdrawal)::

    A:holdings  C  +x
    A:capital   C  -x
"""

from __future__ import annotations

from decimal import Decimal

from rara.domain.events import TradingAccountFunded, TradingExternalFill, TradingOrderFilled
from rara.domain.money import ZERO, exact
from rara.domain.orders import base_and_quote
from rara.errors import BadInput
from rara.ledger.model import LedgerTransaction, Posting, amount_text


def holdings(account: str) -> str:
    return f"{account}:holdings"


def conversion(account: str, symbol: str) -> str:
    return f"{account}:conversion:{symbol}"


def fees(account: str) -> str:
    return f"{account}:fees"


def capital(account: str) -> str:
    return f"{account}:capital"


def fill_tx_id(fill: TradingOrderFilled | TradingExternalFill) -> str:
    """The fill's transaction id: the venue's fill id is unique per venue and account (one of
    our orders' fills and one of an order rara did not send share the form, so a fill is never
    booked twice under the two names)."""
    return f"fill:{fill.exchange}:{fill.account}:{fill.fill_id}"


def fill_detail(fill: TradingOrderFilled | TradingExternalFill) -> dict[str, str | int | None]:
    """The facts booked (and hashed) with a fill: what its postings and its position derive from,
    and which order it belongs to (an external fill has no strategy; its client id may be
    unknown too)."""
    return {
        "exchange": fill.exchange,
        "symbol": fill.symbol,
        "side": fill.side,
        "quantity": amount_text(fill.quantity),
        "price": amount_text(fill.price),
        "fee": amount_text(fill.fee),
        "fee_currency": fill.fee_currency,
        "client_order_id": fill.client_order_id,
        "strategy_id": fill.strategy_id if isinstance(fill, TradingOrderFilled) else None,
        "filled_ms": fill.filled_ms,
    }


def fill_postings(
    account: str,
    symbol: str,
    side: str,
    quantity: Decimal,
    price: Decimal,
    fee: Decimal,
    fee_currency: str,
) -> tuple[Posting, ...]:
    """The postings of one fill (see the module doc); BadInput for a fill no venue makes."""
    base, quote = base_and_quote(symbol)
    problems = []
    if not base or not quote or base == quote:
        problems.append(f"symbol {symbol!r} is not BASE/QUOTE")
    if side not in ("buy", "sell"):
        problems.append(f"side {side!r} is not buy or sell")
    if not quantity > 0:
        problems.append(f"quantity {quantity} is not positive")
    if not price > 0:
        problems.append(f"price {price} is not positive")
    if fee < 0:
        problems.append(f"fee {fee} is negative")
    if problems:
        raise BadInput(
            "ledger_fill_invalid",
            f"cannot book a fill of {account}: " + "; ".join(problems),
            "a fill has a positive quantity and price and a fee of zero or more",
        )
    # Signs flip by copy_negate, which is exact in any context; `-x` would round to the
    # ambient context's 28 digits.
    with exact():
        notional = quantity * price
    q = quantity if side == "buy" else quantity.copy_negate()
    paid = notional if side == "buy" else notional.copy_negate()
    lines = [
        Posting(account=holdings(account), currency=base, amount=q),
        Posting(account=conversion(account, symbol), currency=base, amount=q.copy_negate()),
        Posting(account=conversion(account, symbol), currency=quote, amount=paid),
        Posting(account=holdings(account), currency=quote, amount=paid.copy_negate()),
    ]
    if fee != ZERO:
        lines += [
            Posting(account=fees(account), currency=fee_currency, amount=fee),
            Posting(account=holdings(account), currency=fee_currency, amount=fee.copy_negate()),
        ]
    return tuple(lines)


def fill_transaction(fill: TradingOrderFilled | TradingExternalFill) -> LedgerTransaction:
    """The transaction booking one fill: of one of our orders, or (found by reconciliation,
    `rara.trading.reconcile`) of an order rara did not send."""
    return LedgerTransaction(
        tx_id=fill_tx_id(fill),
        kind="fill",
        account=fill.account,
        detail=fill_detail(fill),
        postings=fill_postings(
            fill.account,
            fill.symbol,
            fill.side,
            fill.quantity,
            fill.price,
            fill.fee,
            fill.fee_currency,
        ),
    )


def funding_transaction(funded: TradingAccountFunded) -> LedgerTransaction:
    """The transaction booking money moved into (or out of) an account; its id is the event's
    ``tx_id``."""
    if funded.amount.is_zero():
        raise BadInput(
            "ledger_funding_invalid",
            f"funding {funded.tx_id!r} of {funded.account} moves no money (amount 0)",
            "fund with a positive amount, or withdraw with a negative one",
        )
    return LedgerTransaction(
        tx_id=funded.tx_id,
        kind="funding",
        account=funded.account,
        detail={
            "currency": funded.currency,
            "amount": amount_text(funded.amount),
            "mode": funded.mode,
        },
        postings=(
            Posting(
                account=holdings(funded.account), currency=funded.currency, amount=funded.amount
            ),
            Posting(
                account=capital(funded.account),
                currency=funded.currency,
                amount=funded.amount.copy_negate(),
            ),
        ),
    )


def expected_postings(tx: LedgerTransaction) -> tuple[Posting, ...]:
    """The postings `tx`'s kind and detail call for: a stored transaction whose postings differ
    was not booked by these rules (or was edited). Raises ValueError/KeyError/BadInput for a
    detail that cannot be read."""
    d = tx.detail
    if tx.kind == "fill":
        return fill_postings(
            tx.account,
            str(d["symbol"]),
            str(d["side"]),
            Decimal(str(d["quantity"])),
            Decimal(str(d["price"])),
            Decimal(str(d["fee"])),
            str(d["fee_currency"]),
        )
    amount = Decimal(str(d["amount"]))
    currency = str(d["currency"])
    return (
        Posting(account=holdings(tx.account), currency=currency, amount=amount),
        Posting(account=capital(tx.account), currency=currency, amount=amount.copy_negate()),
    )
