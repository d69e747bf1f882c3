"""`rara accounts`: the venue accounts of ``[trading.accounts]`` as JSON: exchange, mode, keys
present (never their values), live opt-ins, the dead man's switch each will use, and with
``--balances`` what the venue holds (a network call per account) and the account's last
reconciliation (the newest ``trading_reconciled`` event in the state DB).

`rara accounts ack-external NAME`: a person has looked at the orders rara did not send on
account NAME; the locks they set are released (the account leaves REDUCING) in one step."""

from __future__ import annotations

from typing import Any

import click

from rara.cli.output import emit
from rara.config import load_settings
from rara.credentials import load_secrets
from rara.events import EventFilter, open_event_store
from rara.home import Home
from rara.ledger import amount_text
from rara.trading.accounts import account_balances, account_modes, account_settings
from rara.trading.reconcile_report import acknowledge_external
from rara.trading.venue import VenueError
from rara.trading_settings import ledger_account_of


def last_reconciliation(home: Home, account: str) -> dict[str, Any] | None:
    """The newest ``trading_reconciled`` event of `account` (its time, seq and payload)."""
    if not home.state_db.exists():
        return None
    newest: dict[str, Any] | None = None
    with open_event_store(home.state_db, readonly=True) as store:
        for ev in store.iter_query(EventFilter(types=("trading_reconciled",))):
            if ev.payload.get("account") == account:
                newest = {"seq": ev.seq, "ts": ev.ts, **ev.payload}
    return newest


def _balances(home: Home, name: str, live: bool) -> dict[str, Any]:
    try:
        held = account_balances(home, load_settings(home), name, live_flag=live)
    except VenueError as exc:
        return {"balances": None, "balances_error": f"{exc.code}: {exc.message}"}
    return {
        "balances": {
            c: {
                "free": amount_text(b.free),
                "used": amount_text(b.used),
                "total": amount_text(b.total),
            }
            for c, b in sorted(held.items())
        }
    }


@click.group("accounts", invoke_without_command=True)
@click.option("--account", metavar="NAME", help="Only this account.")
@click.option(
    "--balances",
    "with_balances",
    is_flag=True,
    help="Also ask each venue for its balances (network) and show the last reconciliation.",
)
@click.option("--live", is_flag=True, help="Allow opening live accounts (their third opt-in).")
@click.pass_context
def command(ctx: click.Context, account: str | None, with_balances: bool, live: bool) -> None:
    """Venue accounts: exchange, mode, keys present, dead man's switch; --balances adds the
    venue's balances and the last reconciliation."""
    if ctx.invoked_subcommand is not None:
        return
    home = Home.from_env()
    settings = load_settings(home)
    if account is not None:
        account_settings(settings, account)  # an unknown name is an error, with a guess
    rows = []
    for mode in account_modes(settings, load_secrets(home)):
        if account is not None and mode.account != account:
            continue
        row: dict[str, Any] = mode.model_dump(mode="json")
        if with_balances:
            if mode.mode == "testnet" or live:
                row |= _balances(home, mode.account, live and mode.mode == "live")
            else:
                row |= {"balances": None, "balances_error": "live account: pass --live"}
            # the reconciler names the ledger account
            ledger_account = ledger_account_of(mode.mode, mode.account)
            row["last_reconciliation"] = last_reconciliation(home, ledger_account)
        rows.append(row)
    emit({"live_enabled": settings.trading.live_enabled, "accounts": rows})


@command.command("ack-external")
@click.argument("name")
@click.option("--reason", default="acknowledged by a person", show_default=True, help="Recorded.")
def ack_external(name: str, reason: str) -> None:
    """Acknowledge the external orders on account NAME: release every lock they set, so the
    account may open positions again."""
    home = Home.from_env()
    acct = account_settings(load_settings(home), name)  # an unknown name is an error
    ledger_account = ledger_account_of(acct.mode, name)
    with open_event_store(home.state_db) as store:
        released = acknowledge_external(store, ledger_account, reason=reason, by="cli")
    emit({"account": ledger_account, "released": released})
