"""`rara ledger`: read and verify the double-entry ledger in the state DB of the home
`$RARA_HOME` names (`Home.state_db`). Both commands only read: a home without a ledger has no
accounts and verifies."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from rara.cli.output import emit
from rara.errors import BadInput, RaraError, nearest
from rara.events import open_event_store
from rara.home import Home
from rara.ledger import Ledger, LedgerReport, amount_text, open_ledger


class LedgerBroken(RaraError):
    """Verification failed; the error JSON carries the full report too, in one document."""

    def __init__(self, report: LedgerReport) -> None:
        super().__init__(
            "ledger_broken",
            f"the ledger failed verification: {report.reason}",
            "stop trading on this home and investigate: restore rara.db from a backup, or "
            "rebuild the ledger from the event log into a fresh home (`rara.ledger."
            "rebuild_from_events`) and compare",
        )
        self.report = report

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "report": self.report.model_dump(mode="json")}


def _accounts(ledger: Ledger, account: str | None) -> list[str]:
    known = ledger.accounts()
    if account is None:
        return known
    if account not in known:
        guess = nearest(account, known)
        raise BadInput(
            "ledger_unknown_account",
            f"the ledger has no account {account!r}",
            f"did you mean {guess!r}?" if guess else "`rara ledger balances` lists the accounts",
        )
    return [account]


def _balances(ledger: Ledger, accounts: list[str]) -> dict[str, dict[str, str]]:
    return {a: {c: amount_text(v) for c, v in ledger.balances(a).items()} for a in accounts}


@click.command("balances")
@click.option("--account", metavar="A", help="Only this trading account (e.g. paper:<run id>).")
def balances(account: str | None) -> None:
    """What each trading account holds per currency, from the ledger's postings."""
    path = Home.from_env().state_db
    if not path.exists():
        _accounts_of_nothing(account)
        emit({"last_seq": 0, "accounts": {}})
        return
    with open_ledger(path, readonly=True) as ledger:
        chosen = _accounts(ledger, account)
        emit({"last_seq": ledger.last_seq(), "accounts": _balances(ledger, chosen)})


@click.command("verify")
@click.option("--account", metavar="A", help="Show only this account's balances.")
@click.option(
    "--against-log/--no-against-log",
    default=True,
    show_default=True,
    help="Also check that every funding and fill event of the event log is booked as it says, "
    "and every transaction comes from one.",
)
@click.option(
    "--against-venue/--no-against-venue",
    default=True,
    show_default=True,
    help="Also check every paper account's holdings against its paper venue's balances (while a "
    "run is between a fill and its booking they differ for a moment: verify after it stops).",
)
@click.option(
    "--against-exchange",
    is_flag=True,
    help="Also ask every configured testnet account's exchange for its balances (network) and "
    "check its ledger account (testnet:NAME) against them; with --live, live accounts too.",
)
@click.option("--live", is_flag=True, help="With --against-exchange: open live accounts too.")
def verify(
    account: str | None, against_log: bool, against_venue: bool, against_exchange: bool, live: bool
) -> None:
    """Check the ledger's chain, that every transaction balances per currency, the trial balance
    and the append-only triggers; exit 1 naming the transaction when it fails."""
    path = Home.from_env().state_db
    if not path.exists():
        _accounts_of_nothing(account)
        emit({**LedgerReport.model_validate(_EMPTY).model_dump(mode="json"), "accounts": {}})
        return
    with open_ledger(path, readonly=True) as ledger:
        venues = _paper_balances(path) if against_venue else None
        if against_exchange:
            venues = {**(venues or {}), **_exchange_balances(Home.from_env(), live)}
        if against_log:
            with open_event_store(path, readonly=True) as events:
                report = ledger.verify(venue_balances=venues, events=events)
        else:
            report = ledger.verify(venue_balances=venues)
        if not report.ok:
            raise LedgerBroken(report)
        chosen = _accounts(ledger, account)
        emit({**report.model_dump(mode="json"), "accounts": _balances(ledger, chosen)})


_EMPTY = {
    "ok": True,
    "transactions_checked": 0,
    "postings_checked": 0,
    "last_seq": 0,
    "head_hash": "0" * 64,
    "trial_balance": {},
}


def _accounts_of_nothing(account: str | None) -> None:
    if account is not None:
        raise BadInput(
            "ledger_unknown_account",
            f"the ledger has no account {account!r}: nothing has been booked in this home",
            "`rara paper run` books a paper account's funding and fills",
        )


def _exchange_balances(home: Home, live: bool) -> dict[str, dict[str, Decimal]]:
    """Each configured account's totals at its exchange, by ledger account."""
    from rara.config import load_settings
    from rara.trading.accounts import account_balances
    from rara.trading_settings import ledger_account_of

    settings = load_settings(home)
    out: dict[str, dict[str, Decimal]] = {}
    for name, acct in sorted(settings.trading.accounts.items()):
        if acct.mode == "live" and not live:
            continue
        held = account_balances(home, settings, name, live_flag=live and acct.mode == "live")
        out[ledger_account_of(acct.mode, name)] = {c: b.total for c, b in held.items() if b.total}
    return out


def _paper_balances(path: Path) -> dict[str, dict[str, Decimal]]:
    """The paper venues' balances in this state DB (what a paper account's books must equal)."""
    from rara.state import connect
    from rara.trading.venues.paper_book import stored_balances

    conn = connect(path, readonly=True)
    try:
        return stored_balances(conn)
    finally:
        conn.close()
